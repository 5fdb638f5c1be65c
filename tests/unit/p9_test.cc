// abi/p9.h: the 9P2000.L wire format, and -v option parsing
// (monitor/cli/options.h parse_volume).
#include "abi/p9.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "monitor/cli/options.h"

namespace mote::p9 {
namespace {

TEST(P9Wire, HeaderIsSizeTypeTagLittleEndian) {
  uint8_t buf[64];
  Writer w(buf, sizeof buf);
  w.begin(kTclunk, 0x1234);
  w.u32(0xdeadbeef);
  ASSERT_EQ(w.finish(), 11u);
  const uint8_t want[] = {11, 0, 0, 0, kTclunk, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde};
  EXPECT_EQ(std::memcmp(buf, want, sizeof want), 0);
}

TEST(P9Wire, RoundTripsEveryFieldKind) {
  uint8_t buf[256];
  Writer w(buf, sizeof buf);
  w.begin(kRwalk, 7);
  w.u8(0xab);
  w.u16(0xbeef);
  w.u64(0x0102030405060708ull);
  w.str("name", 4);
  w.qid(Qid{kQtDir, 9, 0x1122334455667788ull});
  uint32_t n = w.finish();
  ASSERT_GT(n, 0u);

  Reader r(buf, n);
  uint8_t type;
  uint16_t tag;
  ASSERT_TRUE(r.header(&type, &tag));
  EXPECT_EQ(type, kRwalk);
  EXPECT_EQ(tag, 7);
  EXPECT_EQ(r.u8(), 0xab);
  EXPECT_EQ(r.u16(), 0xbeef);
  EXPECT_EQ(r.u64(), 0x0102030405060708ull);
  Str s = r.str();
  EXPECT_EQ(std::string(s.data, s.size), "name");
  Qid q = r.qid();
  EXPECT_EQ(q.type, kQtDir);
  EXPECT_EQ(q.version, 9u);
  EXPECT_EQ(q.path, 0x1122334455667788ull);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

TEST(P9Wire, AttrSetattrStatfsDirentRoundTrip) {
  std::vector<uint8_t> buf(1024);
  Writer w(buf.data(), uint32_t(buf.size()));
  w.begin(kRgetattr, 1);
  Attr a{};
  a.valid = kGetattrBasic;
  a.qid = Qid{0, 1, 42};
  a.mode = 0100644;
  a.size = 12345;
  a.mtime_sec = 1700000000;
  a.mtime_nsec = 999;
  put_attr(w, a);
  SetAttr s{kSetattrSize | kSetattrMode, 0755, 1, 2, 77, 3, 4, 5, 6};
  put_setattr(w, s);
  StatFs f{0x01021997, 4096, 10, 9, 8, 7, 6, 5, 255};
  put_statfs(w, f);
  put_dirent(w, Dirent{Qid{kQtFile, 0, 5}, 99, 8, Str{"file", 4}});
  uint32_t n = w.finish();
  ASSERT_GT(n, 0u);

  Reader r(buf.data(), n);
  uint8_t type;
  uint16_t tag;
  ASSERT_TRUE(r.header(&type, &tag));
  Attr b = get_attr(r);
  EXPECT_EQ(b.mode, 0100644u);
  EXPECT_EQ(b.size, 12345u);
  EXPECT_EQ(b.qid.path, 42u);
  EXPECT_EQ(b.mtime_sec, 1700000000u);
  EXPECT_EQ(b.mtime_nsec, 999u);
  SetAttr t = get_setattr(r);
  EXPECT_EQ(t.valid, kSetattrSize | kSetattrMode);
  EXPECT_EQ(t.size, 77u);
  EXPECT_EQ(t.mtime_nsec, 6u);
  StatFs g = get_statfs(r);
  EXPECT_EQ(g.type, 0x01021997u);
  EXPECT_EQ(g.namelen, 255u);
  EXPECT_EQ(g.fsid, 5u);
  Dirent d = get_dirent(r);
  EXPECT_EQ(d.offset, 99u);
  EXPECT_EQ(d.type, 8);
  EXPECT_EQ(std::string(d.name.data, d.name.size), "file");
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
  // 13 (qid) + 8 + 1 + 2 + 4
  EXPECT_EQ(dirent_size(4), 28u);
}

TEST(P9Wire, WriterOverflowIsStickyAndFinishFails) {
  uint8_t buf[12];
  Writer w(buf, sizeof buf);
  w.begin(kTwalk, 1);
  w.u32(1);
  w.u32(2);  // 15 bytes > 12
  w.u8(0);
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.finish(), 0u);
  EXPECT_EQ(w.reserve(1), nullptr);
}

TEST(P9Wire, ReaderPastEndIsStickyAndYieldsZero) {
  uint8_t buf[] = {9, 0, 0, 0, kRclunk, 1, 0, 0xaa, 0xbb};
  Reader r(buf, sizeof buf);
  uint8_t type;
  uint16_t tag;
  ASSERT_TRUE(r.header(&type, &tag));
  EXPECT_EQ(r.u32(), 0u);  // only 2 bytes left
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u8(), 0u);
  EXPECT_EQ(r.take(1), nullptr);
}

TEST(P9Wire, StringLongerThanMessageIsRejected) {
  uint8_t buf[] = {10, 0, 0, 0, kRreadlink, 1, 0, 200, 0, 'x'};
  Reader r(buf, sizeof buf);
  uint8_t type;
  uint16_t tag;
  ASSERT_TRUE(r.header(&type, &tag));
  Str s = r.str();
  EXPECT_EQ(s.size, 0);
  EXPECT_FALSE(r.ok());
}

TEST(P9Wire, HeaderSizeMustMatchTheMessage) {
  uint8_t buf[] = {12, 0, 0, 0, kTclunk, 1, 0, 1, 0, 0, 0};  // says 12, is 11
  Reader r(buf, sizeof buf);
  uint8_t type;
  uint16_t tag;
  EXPECT_FALSE(r.header(&type, &tag));
}

TEST(P9Wire, ValidNameIsOneComponent) {
  EXPECT_TRUE(valid_name(Str{"a", 1}));
  EXPECT_TRUE(valid_name(Str{"...", 3}));
  EXPECT_TRUE(valid_name(Str{".hidden", 7}));
  EXPECT_FALSE(valid_name(Str{"", 0}));
  EXPECT_FALSE(valid_name(Str{".", 1}));
  EXPECT_FALSE(valid_name(Str{"..", 2}));
  EXPECT_FALSE(valid_name(Str{"a/b", 3}));
  EXPECT_FALSE(valid_name(Str{"/", 1}));
  EXPECT_FALSE(valid_name(Str{"a\0b", 3}));
  std::string long_name(256, 'x');
  EXPECT_FALSE(valid_name(Str{long_name.data(), uint16_t(long_name.size())}));
}

TEST(P9Wire, MessageNumbersAreLinuxs) {
  // include/net/9p/9p.h
  EXPECT_EQ(kRlerror, 7);
  EXPECT_EQ(kTlopen, 12);
  EXPECT_EQ(kTgetattr, 24);
  EXPECT_EQ(kTreaddir, 40);
  EXPECT_EQ(kTrenameat, 74);
  EXPECT_EQ(kTunlinkat, 76);
  EXPECT_EQ(kTversion, 100);
  EXPECT_EQ(kTwalk, 110);
  EXPECT_EQ(kTclunk, 120);
}

}  // namespace
}  // namespace mote::p9

namespace mote::cli {
namespace {

TEST(ParseVolume, DefaultsToReadOnly) {
  std::string e;
  auto v = parse_volume("/srv/data:/data", &e);
  ASSERT_TRUE(v) << e;
  EXPECT_EQ(v->host, "/srv/data");
  EXPECT_EQ(v->guest, "/data");
  EXPECT_TRUE(v->read_only);
}

TEST(ParseVolume, ModesAndCanonicalGuestPath) {
  std::string e;
  auto rw = parse_volume("rel/dir:/mnt//x/:rw", &e);
  ASSERT_TRUE(rw) << e;
  EXPECT_FALSE(rw->read_only);
  EXPECT_EQ(rw->host, "rel/dir");
  EXPECT_EQ(rw->guest, "/mnt/x");
  auto ro = parse_volume("/a:/b:ro", &e);
  ASSERT_TRUE(ro);
  EXPECT_TRUE(ro->read_only);
}

TEST(ParseVolume, BadInputIsOneLine) {
  struct Case {
    const char* spec;
    const char* says;
  } cases[] = {
      {"/a", "needs HOST:GUEST"},
      {":/b", "needs HOST:GUEST"},
      {"/a:", "needs HOST:GUEST"},
      {"/a:/b:ro:x", "needs HOST:GUEST"},
      {"/a:b", "must be absolute"},
      {"/a:/b:rx", "unknown mode 'rx'"},
      {"/a:/", "root directory"},
      {"/a:/b/../c", "'..'"},
  };
  for (const auto& c : cases) {
    std::string e;
    EXPECT_FALSE(parse_volume(c.spec, &e)) << c.spec;
    EXPECT_NE(e.find(c.says), std::string::npos) << c.spec << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
    EXPECT_EQ(e.rfind(std::string("-v ") + c.spec, 0), 0u) << e;
  }
}

TEST(ParseVolume, ParseRunChecksEachVolume) {
  std::string e;
  EXPECT_FALSE(parse_run({"-v", "/a:b", "prog"}, &e, nullptr));
  EXPECT_NE(e.find("must be absolute"), std::string::npos);
  auto o = parse_run({"-v", "/a:/b:rw", "--volume=/c:/d", "prog"}, &e, nullptr);
  ASSERT_TRUE(o) << e;
  EXPECT_EQ(o->volumes, (std::vector<std::string>{"/a:/b:rw", "/c:/d"}));
}

}  // namespace
}  // namespace mote::cli

// The boot-info share table (abi/boot_info.h ShareMount), written by
// monitor/process/boot_blob.cc and checked by abi::boot_info_ok.
#include "monitor/process/boot_blob.h"

namespace mote::launch {
namespace {

BootRequest with_shares() {
  BootRequest r;
  r.argv = {"/bin/prog"};
  r.program_path = "/bin/prog";
  r.hostname = "mote";
  r.cwd = "/";
  r.share_fd = 7;
  r.shares = {{"/data", abi::kShareReadOnly}, {"/mnt/rw", 0}};
  return r;
}

abi::BootInfo header_of(const std::vector<uint8_t>& blob) {
  abi::BootInfo h;
  memcpy(&h, blob.data(), sizeof h);
  return h;
}

TEST(ShareBootInfo, TableRoundTrips) {
  std::vector<uint8_t> blob = build_boot_blob(with_shares());
  ASSERT_TRUE(abi::boot_info_ok(blob.data(), blob.size()));
  abi::BootInfo h = header_of(blob);
  EXPECT_EQ(h.share_fd, 7);
  ASSERT_EQ(h.share_count, 2u);
  abi::ShareMount m[2];
  memcpy(m, blob.data() + h.shares_offset, sizeof m);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(blob.data()) + m[0].guest_path.offset,
                        m[0].guest_path.length), "/data");
  EXPECT_EQ(m[0].flags, uint32_t(abi::kShareReadOnly));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(blob.data()) + m[1].guest_path.offset,
                        m[1].guest_path.length), "/mnt/rw");
  EXPECT_EQ(m[1].flags, 0u);
}

TEST(ShareBootInfo, NoSharesMeansNone) {
  BootRequest r = with_shares();
  r.shares.clear();
  r.share_fd = -1;
  std::vector<uint8_t> blob = build_boot_blob(r);
  ASSERT_TRUE(abi::boot_info_ok(blob.data(), blob.size()));
  EXPECT_EQ(header_of(blob).share_count, 0u);
}

TEST(ShareBootInfo, BadTablesAreRejected) {
  std::vector<uint8_t> good = build_boot_blob(with_shares());
  auto patched = [&](auto change) {
    std::vector<uint8_t> b = good;
    abi::BootInfo h = header_of(b);
    change(h, b);
    memcpy(b.data(), &h, sizeof h);
    return abi::boot_info_ok(b.data(), b.size());
  };
  EXPECT_FALSE(patched([](abi::BootInfo& h, auto&) { h.shares_offset = h.total_size; }));
  EXPECT_FALSE(patched([](abi::BootInfo& h, auto&) { h.shares_offset = 8; }));
  EXPECT_FALSE(patched([](abi::BootInfo& h, auto&) { h.shares_offset += 2; }));  // misaligned
  EXPECT_FALSE(patched([](abi::BootInfo& h, auto&) { h.share_count = 1000; }));
  EXPECT_FALSE(patched([](abi::BootInfo& h, auto& b) {
    abi::ShareMount m;
    memcpy(&m, b.data() + h.shares_offset, sizeof m);
    m.guest_path.length = 1u << 30;  // past the end
    memcpy(b.data() + h.shares_offset, &m, sizeof m);
  }));
  EXPECT_FALSE(patched([](abi::BootInfo& h, auto& b) {
    abi::ShareMount m;
    memcpy(&m, b.data() + h.shares_offset, sizeof m);
    m.guest_path.length = 0;  // empty path
    memcpy(b.data() + h.shares_offset, &m, sizeof m);
  }));
}

}  // namespace
}  // namespace mote::launch
