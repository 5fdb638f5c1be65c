// monitor/image/cpio.h: newc archives written and read back, with file data
// of 4096 bytes or more page-aligned in the archive.
#include "monitor/image/cpio.h"

#include "abi/rootfs_index.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace mote::image {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char t[] = "/tmp/mote-cpio-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& bytes) {
    auto p = path / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
};

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7 + size_t(seed)) % 26);
  return s;
}

std::string read_at(int fd, uint64_t off, uint64_t n) {
  std::string s(n, '\0');
  EXPECT_EQ(pread(fd, s.data(), n, off_t(off)), ssize_t(n));
  return s;
}

CpioEntry dir(const std::string& p) { return {p, S_IFDIR | 0755, 0, 0, "", ""}; }
CpioEntry file(const std::string& p, const std::string& host, uint64_t size, uint32_t perm = 0644) {
  return {p, S_IFREG | perm, 1700000000, size, host, ""};
}
CpioEntry link(const std::string& p, const std::string& target) {
  return {p, S_IFLNK | 0777, 1600000000, 0, "", target};
}

class Cpio : public ::testing::Test {
 protected:
  TempDir t;
  std::map<std::string, std::string> contents;
  std::vector<CpioEntry> entries;

  void SetUp() override {
    // Sizes around the alignment threshold, given out of order.
    for (auto [name, size] : std::vector<std::pair<std::string, size_t>>{
             {"big", 10000}, {"small", 10}, {"empty", 0}, {"page", 4096}, {"below", 4095},
             {"huge", 3 * 4096 + 17}}) {
      contents["usr/lib/" + name] = pattern(size, int(size));
      entries.push_back(file("usr/lib/" + name, t.write(name, contents["usr/lib/" + name]), size));
    }
    entries.push_back(file("usr/bin/prog", t.write("prog", "#!"), 2, 0755));
    entries.push_back(link("lib", "usr/lib"));
    entries.push_back(link("usr/bin/python3", "python3.11"));
    entries.push_back(dir("usr/lib"));
    entries.push_back(dir("usr"));
    entries.push_back(dir("usr/bin"));
  }

  int write_archive(std::string* error, uint64_t* size) {
    std::string out = (t.path / "out.cpio").string();
    int fd = open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    *size = write_cpio(fd, entries, error);
    return fd;
  }
};

TEST_F(Cpio, RoundTripKeepsEveryEntry) {
  std::string error;
  uint64_t size = 0;
  int fd = write_archive(&error, &size);
  ASSERT_GT(size, 0u) << error;
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), size);
  std::vector<CpioItem> items;
  ASSERT_TRUE(read_cpio(fd, 0, size, &items, &error)) << error;
  ASSERT_EQ(items.size(), entries.size());
  // Sorted by path: a directory before what it holds; inode numbers in order.
  std::vector<std::string> paths;
  for (const auto& it : items) paths.push_back(it.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"lib", "usr", "usr/bin", "usr/bin/prog",
                                             "usr/bin/python3", "usr/lib", "usr/lib/below",
                                             "usr/lib/big", "usr/lib/empty", "usr/lib/huge",
                                             "usr/lib/page", "usr/lib/small"}));
  for (size_t i = 0; i < items.size(); ++i) {
    const CpioItem& it = items[i];
    EXPECT_EQ(it.ino, i + 1) << it.path;
    EXPECT_EQ(it.uid, 0u);
    EXPECT_EQ(it.gid, 0u);
    EXPECT_EQ(it.nlink, S_ISDIR(it.mode) ? 2u : 1u) << it.path;
    EXPECT_EQ(it.data_offset % 4, 0u) << it.path;
    if (S_ISREG(it.mode)) {
      EXPECT_EQ(read_at(fd, it.data_offset, it.size), contents.count(it.path) ? contents[it.path] : "#!")
          << it.path;
      EXPECT_EQ(it.mtime, 1700000000u);
    }
  }
  auto find = [&](const std::string& p) {
    for (const auto& it : items)
      if (it.path == p) return it;
    ADD_FAILURE() << p << " missing";
    return CpioItem{};
  };
  EXPECT_EQ(find("lib").link_target, "usr/lib");
  EXPECT_EQ(find("lib").mode, uint32_t(S_IFLNK | 0777));
  EXPECT_EQ(find("usr/bin/python3").link_target, "python3.11");
  EXPECT_EQ(find("usr/bin/prog").mode, uint32_t(S_IFREG | 0755));
  EXPECT_EQ(find("usr").mode, uint32_t(S_IFDIR | 0755));
  // The trailer ends the cpio part; the index (abi/rootfs_index.h) follows,
  // its footer last.
  EXPECT_EQ(size % 4, 0u);
  abi::IndexFooter footer;
  ASSERT_EQ(pread(fd, &footer, sizeof footer, off_t(size - sizeof footer)), ssize_t(sizeof footer));
  EXPECT_EQ(std::string(footer.magic, 8), "MOTEIDX1");
  ASSERT_LT(footer.index_offset, size);
  ASSERT_GE(footer.index_offset, 124u);
  EXPECT_NE(read_at(fd, footer.index_offset - 124, 124).find("TRAILER!!!"), std::string::npos);
  close(fd);
}

TEST_F(Cpio, IndexListsEveryEntryWhereTheArchiveHasIt) {
  std::string error;
  uint64_t size = 0;
  int fd = write_archive(&error, &size);
  ASSERT_GT(size, 0u) << error;
  std::vector<CpioItem> items;
  ASSERT_TRUE(read_cpio(fd, 0, size, &items, &error)) << error;
  abi::IndexFooter footer;
  ASSERT_EQ(pread(fd, &footer, sizeof footer, off_t(size - sizeof footer)), ssize_t(sizeof footer));
  abi::IndexHeader h;
  ASSERT_EQ(pread(fd, &h, sizeof h, off_t(footer.index_offset)), ssize_t(sizeof h));
  EXPECT_EQ(std::string(h.magic, 8), "MOTEIDX1");
  std::vector<abi::IndexEntry> index(h.count);
  ASSERT_EQ(pread(fd, index.data(), h.count * sizeof(abi::IndexEntry),
                  off_t(footer.index_offset + sizeof h)),
            ssize_t(h.count * sizeof(abi::IndexEntry)));
  std::string names = read_at(fd, footer.index_offset + sizeof h + h.count * sizeof(abi::IndexEntry),
                              h.names_size);
  size_t real = 0;
  for (const auto& it : items)
    if (it.path != ".") ++real;  // padding entries are not indexed
  ASSERT_EQ(h.count, real);
  for (const auto& e : index) {
    std::string name = names.substr(e.name_offset, e.name_length);
    const CpioItem* it = nullptr;
    for (const auto& c : items)
      if (c.path == name) it = &c;
    ASSERT_NE(it, nullptr) << name;
    EXPECT_EQ(e.mode, it->mode) << name;
    EXPECT_EQ(e.mtime, it->mtime) << name;
    if ((e.mode & S_IFMT) != S_IFDIR) {
      EXPECT_EQ(e.data_offset, it->data_offset) << name;
      EXPECT_EQ(e.size, (e.mode & S_IFMT) == S_IFLNK ? it->link_target.size() : it->size) << name;
    }
  }
  close(fd);
}

TEST_F(Cpio, LargeFilesStartOnAPage) {
  std::string error;
  uint64_t size = 0;
  int fd = write_archive(&error, &size);
  ASSERT_GT(size, 0u) << error;
  std::vector<CpioItem> items;
  ASSERT_TRUE(read_cpio(fd, 0, size, &items, &error)) << error;
  int aligned = 0;
  for (const auto& it : items) {
    if (!S_ISREG(it.mode)) continue;
    if (it.size >= 4096) {
      EXPECT_EQ(it.data_offset % 4096, 0u) << it.path << " at " << it.data_offset;
      ++aligned;
    }
  }
  EXPECT_EQ(aligned, 3);  // big, page, huge
  // Smaller files keep the usual 4-byte alignment: no page of padding each.
  for (const auto& it : items)
    if (it.path == "usr/lib/below" || it.path == "usr/lib/empty") {
      EXPECT_NE(it.data_offset % 4096, 0u);
    }
  close(fd);
}

TEST_F(Cpio, LongNamesStayWithinPathMaxAndStillAlign) {
  // Names of ~1000 bytes: often a page of padding will not fit in one name
  // (c_namesize <= 4096, Linux's PATH_MAX), and a "." filler takes the room.
  entries.clear();
  contents.clear();
  entries.push_back(dir("d"));
  for (int i = 0; i < 24; ++i) {
    std::string name = "d/" + std::string(900 + size_t(i) * 37, char('a' + i));
    contents[name] = pattern(4096 + size_t(i) * 1001, i);
    entries.push_back(file(name, t.write("f" + std::to_string(i), contents[name]), contents[name].size()));
  }
  std::string error;
  uint64_t size = 0;
  int fd = write_archive(&error, &size);
  ASSERT_GT(size, 0u) << error;
  std::vector<CpioItem> items;
  ASSERT_TRUE(read_cpio(fd, 0, size, &items, &error)) << error;  // the reader checks c_namesize
  int fillers = 0, files = 0;
  for (const auto& it : items) {
    if (it.path == ".") {
      ++fillers;
      EXPECT_EQ(it.mode, uint32_t(S_IFDIR | 0755));
      continue;
    }
    if (!S_ISREG(it.mode)) continue;
    ++files;
    EXPECT_EQ(it.data_offset % 4096, 0u) << it.path.size();
    EXPECT_EQ(read_at(fd, it.data_offset, it.size), contents[it.path]);
  }
  EXPECT_EQ(files, 24);
  EXPECT_GT(fillers, 0);
  close(fd);
}

TEST_F(Cpio, OutputIsDeterministic) {
  std::string error;
  uint64_t size1 = 0, size2 = 0;
  int fd1 = write_archive(&error, &size1);
  std::string a = read_at(fd1, 0, size1);
  close(fd1);
  std::reverse(entries.begin(), entries.end());  // input order does not matter
  int fd2 = write_archive(&error, &size2);
  std::string b = read_at(fd2, 0, size2);
  close(fd2);
  EXPECT_EQ(size1, size2);
  EXPECT_TRUE(a == b);
}

TEST_F(Cpio, AFileThatShrankIsPadded) {
  entries = {file("f", t.write("shrinks", "abc"), 6000)};
  std::string error;
  uint64_t size = 0;
  int fd = write_archive(&error, &size);
  ASSERT_GT(size, 0u) << error;
  std::vector<CpioItem> items;
  ASSERT_TRUE(read_cpio(fd, 0, size, &items, &error)) << error;
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].size, 6000u);
  EXPECT_EQ(read_at(fd, items[0].data_offset, 6), std::string("abc\0\0\0", 6));
  close(fd);
}

TEST_F(Cpio, BadInputIsRefused) {
  std::string error;
  uint64_t size = 0;
  entries.push_back(dir("usr"));
  int fd = write_archive(&error, &size);
  EXPECT_EQ(size, 0u);
  EXPECT_NE(error.find("two entries for usr"), std::string::npos) << error;
  close(fd);
  entries = {file("/abs", "/dev/null", 0)};
  fd = write_archive(&error, &size);
  EXPECT_EQ(size, 0u);
  close(fd);
  entries = {file("missing", (t.path / "nope").string(), 1)};
  fd = write_archive(&error, &size);
  EXPECT_EQ(size, 0u);
  EXPECT_NE(error.find("nope"), std::string::npos) << error;
  close(fd);
}

TEST_F(Cpio, ReaderRejectsDamage) {
  std::string error;
  uint64_t size = 0;
  int fd = write_archive(&error, &size);
  ASSERT_GT(size, 0u) << error;
  std::vector<CpioItem> items;
  abi::IndexFooter footer;
  ASSERT_EQ(pread(fd, &footer, sizeof footer, off_t(size - sizeof footer)), ssize_t(sizeof footer));
  EXPECT_FALSE(read_cpio(fd, 0, footer.index_offset - 128, &items, &error));  // no trailer
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  ASSERT_EQ(pwrite(fd, "070702", 6, 0), 6);
  EXPECT_FALSE(read_cpio(fd, 0, size, &items, &error));
  EXPECT_NE(error.find("magic"), std::string::npos) << error;
  ASSERT_EQ(pwrite(fd, "070701zz", 8, 0), 8);
  EXPECT_FALSE(read_cpio(fd, 0, size, &items, &error));
  close(fd);
}

}  // namespace
}  // namespace mote::image
