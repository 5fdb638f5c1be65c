#include "monitor/vm/virtio/p9.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "abi/p9.h"

namespace mote::vm::virtio {

NinePDevice::NinePDevice(const std::string& tag, int server_fd)
    : fd_(server_fd), req_(p9::kMsize), resp_(p9::kMsize) {
  // struct virtio_9p_config { le16 tag_len; u8 tag[tag_len]; }
  config_.resize(2 + tag.size());
  uint16_t len = uint16_t(tag.size());
  std::memcpy(config_.data(), &len, 2);
  std::memcpy(config_.data() + 2, tag.data(), tag.size());
}

size_t NinePDevice::forward(size_t req_len) {
  if (fd_ < 0) return 0;
  ssize_t s;
  do s = send(fd_, req_.data(), req_len, MSG_NOSIGNAL);
  while (s < 0 && errno == EINTR);
  if (s != ssize_t(req_len)) return 0;
  ssize_t r;
  do r = recv(fd_, resp_.data(), resp_.size(), MSG_TRUNC);
  while (r < 0 && errno == EINTR);
  if (r < ssize_t(p9::kHeader) || size_t(r) > resp_.size()) return 0;
  uint32_t size;
  std::memcpy(&size, resp_.data(), 4);
  return size == uint32_t(r) ? size_t(r) : 0;
}

void NinePDevice::notify(Transport& t, uint16_t q) {
  Queue* queue = t.queue(q);
  if (!queue) return;
  bool any = false;
  std::string fault;
  while (auto c = queue->pop(&fault)) {
    any = true;
    size_t n = c->readable <= req_.size() ? c->read(std::span<uint8_t>(req_.data(), size_t(c->readable))) : 0;
    size_t got = n >= p9::kHeader ? forward(n) : 0;
    if (!got || got > c->writable) {
      // Rlerror(EIO) with the request's tag (kNoTag when it had none).
      uint16_t tag = p9::kNoTag;
      if (n >= p9::kHeader) std::memcpy(&tag, req_.data() + 5, 2);
      uint8_t err[11];
      uint32_t size = sizeof err, ecode = EIO;
      std::memcpy(err, &size, 4);
      err[4] = p9::kRlerror;
      std::memcpy(err + 5, &tag, 2);
      std::memcpy(err + 7, &ecode, 4);
      got = c->writable >= sizeof err ? sizeof err : 0;
      std::memcpy(resp_.data(), err, got);
    }
    c->write(std::span<const uint8_t>(resp_.data(), got));
    queue->push(*c, uint32_t(got));
  }
  if (!fault.empty()) return t.fault("request queue: " + fault);
  if (any) t.used_buffers(q);
}

}  // namespace mote::vm::virtio
