#include "kernel/fs/pipe.h"

#include "kernel/core/signals.h"
#include "kernel/core/thread.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

namespace mote::fs {

namespace {

constexpr usize kPipeSize = 65536;  // Linux's default pipe capacity
constexpr usize kPipeBuf = 4096;    // PIPE_BUF: writes up to this are atomic
constexpr int kSigpipe = 13;

FileSystem g_pipefs{0, "pipefs", 0x50495045, false, 1};

// The shared buffer. Its inode is the FIFO's (named pipes) or an anonymous
// one (pipe2), so fstat reports S_IFIFO.
class Pipe final : public RefCounted {
 public:
  ~Pipe() override;

  usize used() const { return used_; }
  usize room() const { return kPipeSize - used_; }

  Result<usize> read(u8* out, usize len, bool nonblock) {
    while (used_ == 0) {
      if (writers == 0) return usize(0);  // EOF
      if (nonblock) return err(EAGAIN);
      if (!core::wake_possible()) return err(EDEADLK);
      if (core::wait_on(readable_q, core::kForever, true) == core::Wake::Interrupted)
        return err(core::kErestartSys);
    }
    usize n = min(len, used_);
    for (usize k = 0; k < n;) {
      usize chunk = min(n - k, kPipeSize - head_);
      memcpy(out + k, buf_ + head_, chunk);
      head_ = (head_ + chunk) % kPipeSize;
      k += chunk;
    }
    used_ -= n;
    changed();
    return n;
  }

  // Readers, writers and pollers look again.
  void changed() {
    core::wake_all(readable_q);
    core::wake_all(writable_q);
    core::notify_poll();
  }

  Result<usize> write(const u8* in, usize len, bool nonblock) {
    if (readers == 0) {
      core::send_signal_to_self(kSigpipe);
      return err(EPIPE);
    }
    if (!buf_) {
      buf_ = static_cast<u8*>(mm::kalloc(kPipeSize));
      if (!buf_) return err(ENOMEM);
    }
    // Small writes go in whole or not at all.
    usize need = len <= kPipeBuf ? len : 1;
    while (room() < need) {
      if (nonblock) return err(EAGAIN);
      if (!core::wake_possible()) return err(EDEADLK);
      if (core::wait_on(writable_q, core::kForever, true) == core::Wake::Interrupted)
        return err(core::kErestartSys);
      if (readers == 0) {
        core::send_signal_to_self(kSigpipe);
        return err(EPIPE);
      }
    }
    usize n = min(len, room());
    usize tail = (head_ + used_) % kPipeSize;
    for (usize k = 0; k < n;) {
      usize chunk = min(n - k, kPipeSize - tail);
      memcpy(buf_ + tail, in + k, chunk);
      tail = (tail + chunk) % kPipeSize;
      k += chunk;
    }
    used_ += n;
    changed();
    return n;
  }

  u32 readers = 0;
  u32 writers = 0;
  core::WaitQueue readable_q, writable_q;

 private:
  u8* buf_ = nullptr;
  usize head_ = 0;
  usize used_ = 0;
};

class PipeEnd final : public File {
 public:
  PipeEnd(Ref<Inode> node, u32 flags, Ref<Pipe> pipe) : File(node, flags), pipe_(pipe) {
    if (readable()) ++pipe_->readers;
    if (writable()) ++pipe_->writers;
  }
  ~PipeEnd() override {
    if (readable()) --pipe_->readers;
    if (writable()) --pipe_->writers;
    pipe_->changed();  // EOF or EPIPE for the other side
  }
  bool seekable() const override { return false; }
  Result<usize> pread(void* buf, usize len, u64) override {
    if (!readable()) return err(EBADF);
    if (len == 0) return usize(0);
    return pipe_->read(static_cast<u8*>(buf), len, flags & kONonblock);
  }
  Result<usize> pwrite(const void* buf, usize len, u64) override {
    if (!writable()) return err(EBADF);
    if (len == 0) return usize(0);
    auto r = pipe_->write(static_cast<const u8*>(buf), len, flags & kONonblock);
    if (r.ok()) inode->mtime = inode->ctime = now();
    return r;
  }
  Result<u64> seek(i64, int) override { return err(ESPIPE); }
  Result<i64> ioctl(u32 cmd, u64 arg) override { return err(ENOTTY); }
  Result<u64> readable_bytes() override { return u64(pipe_->used()); }
  u32 poll_ready() override {
    u32 ev = 0;
    if (readable()) {
      if (pipe_->used()) ev |= kPollIn | kPollRdnorm;
      if (!pipe_->writers) ev |= kPollHup;
    }
    if (writable()) {
      if (pipe_->room() >= kPipeBuf) ev |= kPollOut | kPollWrnorm;
      if (!pipe_->readers) ev |= kPollErr;
    }
    return ev;
  }
  Pipe& pipe() { return *pipe_; }

 private:
  Ref<Pipe> pipe_;
};

// Open FIFOs: the pipe of a FIFO inode lives while any end is open.
struct FifoSlot {
  Inode* node;
  Pipe* pipe;  // weak: the ends hold the references; ~Pipe clears it
};
constexpr usize kMaxFifos = 64;
FifoSlot g_fifos[kMaxFifos];

Pipe::~Pipe() {
  mm::kfree(buf_);
  for (FifoSlot& s : g_fifos)
    if (s.pipe == this) s = FifoSlot{};
}

}  // namespace

Result<void> make_pipe(u32 flags, Ref<File>* read_end, Ref<File>* write_end) {
  auto node = make_ref<Inode>(&g_pipefs, g_pipefs.next_ino++, kIfifo | 0600);
  auto pipe = make_ref<Pipe>();
  if (!node || !pipe) return err(ENOMEM);
  u32 status = flags & (kONonblock | kODirect);
  auto r = make_ref<PipeEnd>(Ref<Inode>(node), status, pipe);
  auto w = make_ref<PipeEnd>(Ref<Inode>(node), status | kOWronly, pipe);
  if (!r || !w) return err(ENOMEM);
  *read_end = Ref<File>(r);
  *write_end = Ref<File>(w);
  return ok();
}

Result<Ref<File>> open_fifo(Ref<Inode> node, u32 flags) {
  // Find the pipe of a FIFO with an end open, or start one.
  Pipe* pipe = nullptr;
  FifoSlot* free_slot = nullptr;
  for (FifoSlot& s : g_fifos) {
    if (s.pipe && s.node == node.get()) pipe = s.pipe;
    else if (!free_slot && !s.pipe) free_slot = &s;
  }
  Ref<Pipe> p;
  if (pipe) {
    p = Ref<Pipe>(pipe);
  } else {
    p = make_ref<Pipe>();
    if (!p) return err(ENOMEM);
    if (!free_slot) return err(ENFILE);
    *free_slot = FifoSlot{node.get(), p.get()};
  }
  u32 acc = flags & kOAccmode;
  // Opening one end blocks until the other is open, except O_RDWR and
  // O_NONBLOCK readers; a non-blocking writer without readers gets ENXIO.
  if (acc == kOWronly && !p->readers) {
    if (flags & kONonblock) return err(ENXIO);
    return err(EDEADLK);
  }
  if (acc == 0 && !p->writers && !(flags & kONonblock)) return err(EDEADLK);
  auto f = make_ref<PipeEnd>(node, flags & ~(kOCreat | kOExcl | kONoctty | kOTrunc), p);
  if (!f) return err(ENOMEM);
  return Ref<File>(f);
}

}  // namespace mote::fs
