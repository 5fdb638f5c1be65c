// What the run loop does after the monitor handled an exit.
#pragma once

#include <string>
#include <utility>

namespace mote::vm {

// Status of a VM the monitor had to stop (docker's "the runtime failed").
inline constexpr int kStopStatus = 125;

struct Action {
  enum class Kind {
    Resume,  // back into the guest
    Exit,    // the guest asked to end, with `status`
    Stop,    // the guest misbehaved or crashed: end with kStopStatus and `reason`
  };
  Kind kind = Kind::Resume;
  int status = 0;
  std::string reason;  // Stop: the part of "VM stopped: <reason> at rip 0x..."

  static Action resume() { return Action{}; }
  static Action exit(int status) { return Action{Kind::Exit, status, {}}; }
  static Action stop(std::string reason) { return Action{Kind::Stop, kStopStatus, std::move(reason)}; }
};

}  // namespace mote::vm
