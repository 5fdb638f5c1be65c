// A test backend: the monitor's boot code and exit handling, driven by a CPU
// emulated with Unicorn instead of KVM. Everything the monitor does is the
// same code as on KVM (GuestMemory, prepare_direct_boot, ExitDispatcher, the
// hypercall table); only the KVM ioctls are replaced by the emulator's API.
// It proves the guest-visible state (GDT, page tables, entry registers,
// hypercall structs) on hosts whose KVM cannot run a ring-0 guest.
#pragma once

#include "monitor/boot/entry.h"
#include "monitor/vm/exit_dispatch.h"
#include "monitor/vm/expected.h"
#include "monitor/vm/gdb/stub.h"
#include "monitor/vm/memory.h"
#include "monitor/vm/run.h"

namespace mote::vmtest {

// True when the emulated CPU walked the page tables at `cr3` for `va` (the
// PML4 entry's Accessed bit is set): the guest ran with paging on.
bool paging_was_walked(const vm::GuestMemory& mem, uint64_t cr3, uint64_t va);

// `mmio_base` (0: none): one page there is device memory whose every access
// is an MMIO exit handed to the dispatcher, as KVM_EXIT_MMIO is.
// `stub` (--gdb): debug stops (the first instruction, int3s, single steps,
// its execute breakpoint) go to it, as the KVM run loop's do.
vm::Expected<vm::RunResult> run_emulated(const vm::GuestMemory& mem, const boot::EntryState& entry,
                                         vm::ExitDispatcher& dispatcher, vm::RunTimes* times,
                                         uint64_t mmio_base = 0, vm::gdbstub::Stub* stub = nullptr);

}  // namespace mote::vmtest
