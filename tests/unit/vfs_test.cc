// The kernel's VFS on the host: Linux path resolution, tmpfs operations and
// their errno, files backed by a boot image (copy-on-write), and the root
// filesystem image parser (cpio headers and mote's index) on good and
// damaged input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "abi/rootfs_index.h"
#include "kernel/fs/initramfs.h"
#include "kernel/fs/tmpfs.h"
#include "kernel/fs/vfs.h"
#include "kernel/lib/errno.h"
#include "tests/unit/fs_host.h"

namespace mote::fs {
namespace {

using test::fresh_root;

Ref<Inode> must(Result<Ref<Inode>> r) {
  EXPECT_TRUE(r.ok()) << "errno " << r.error();
  return r.ok() ? r.value() : Ref<Inode>();
}

int error_of(Result<Ref<Inode>> r) { return r.ok() ? 0 : r.error(); }

std::string cwd_of(Inode* dir) {
  char buf[kPathMax];
  auto n = dir_path(dir, buf, sizeof buf);
  return n.ok() ? std::string(buf, n.value()) : "errno " + std::to_string(n.error());
}

std::string read_all(Inode& f) {
  std::string out(f.size, '\0');
  auto n = f.read(0, out.data(), out.size());
  EXPECT_TRUE(n.ok());
  return out;
}

TEST(Vfs, DotDotFollowsThePhysicalParentOfASymlinkedDirectory) {
  fresh_root();
  Ref<Inode> b = must(mkdir_p("/a/b"));
  Ref<Inode> c = must(mkdir_p("/c"));
  must(resolve(nullptr, "/c", kFollow))->symlink("l", "../a/b").value();
  EXPECT_EQ(must(resolve(nullptr, "/c/l", kFollow)).get(), b.get());
  // "l/.." is the parent of b (a), not c: symlinks are followed first.
  EXPECT_EQ(must(resolve(nullptr, "/c/l/..", kFollow)).get(),
            must(resolve(nullptr, "/a", kFollow)).get());
  EXPECT_EQ(must(resolve(nullptr, "/../../a/./b//", kFollow)).get(), b.get());
  EXPECT_EQ(cwd_of(b.get()), "/a/b");
}

TEST(Vfs, SymlinkLoopsAndTrailingSlashes) {
  fresh_root();
  Ref<Inode> root = ns().root;
  root->symlink("self", "self").value();
  root->symlink("x", "y").value();
  root->symlink("y", "x").value();
  EXPECT_EQ(error_of(resolve(nullptr, "/self", kFollow)), ELOOP);
  EXPECT_EQ(error_of(resolve(nullptr, "/x", kFollow)), ELOOP);
  // Without following, the link itself.
  EXPECT_TRUE(must(resolve(nullptr, "/self", 0))->is_symlink());
  root->mknod("file", kIfreg | 0644, 0).value();
  EXPECT_EQ(error_of(resolve(nullptr, "/file/", kFollow)), ENOTDIR);
  EXPECT_EQ(error_of(resolve(nullptr, "/file/x", kFollow)), ENOTDIR);
  EXPECT_EQ(error_of(resolve(nullptr, "/missing/x", kFollow)), ENOENT);
  EXPECT_EQ(error_of(resolve(nullptr, "", kFollow)), ENOENT);
  EXPECT_EQ(error_of(resolve(nullptr, std::string(300, 'n').c_str(), kFollow)), ENAMETOOLONG);
}

TEST(Vfs, RelativePathsStartAtTheWorkingDirectory) {
  fresh_root();
  Ref<Inode> d = must(mkdir_p("/w/d"));
  d->mknod("f", kIfreg | 0644, 0).value();
  ns().cwd = d;
  EXPECT_TRUE(must(resolve(nullptr, "f", kFollow))->is_reg());
  EXPECT_TRUE(must(resolve(nullptr, "../d/f", kFollow))->is_reg());
  char name[kNameMax + 1];
  auto pn = resolve_parent(nullptr, "sub/new", name);
  EXPECT_EQ(pn.ok() ? 0 : pn.error(), ENOENT);
  pn = resolve_parent(nullptr, "new/", name);
  ASSERT_TRUE(pn.ok());
  EXPECT_EQ(std::string(pn.value().name.data, pn.value().name.size), "new");
  EXPECT_TRUE(pn.value().trailing_slash);
}

TEST(Vfs, RenameFollowsLinuxRules) {
  fresh_root();
  Ref<Inode> a = must(mkdir_p("/a"));
  Ref<Inode> b = must(mkdir_p("/a/b"));
  Ref<Inode> other = must(mkdir_p("/other"));
  other->mknod("keep", kIfreg | 0644, 0).value();
  a->mknod("f", kIfreg | 0644, 0).value();
  // A directory cannot move below itself.
  EXPECT_EQ(ns().root->rename("a", *b, "a2", 0).error(), EINVAL);
  // A file over a directory, and a directory over a non-empty one.
  EXPECT_EQ(a->rename("f", *ns().root, "other", 0).error(), EISDIR);
  EXPECT_EQ(a->rename("b", *ns().root, "other", 0).error(), ENOTEMPTY);
  // NOREPLACE and EXCHANGE.
  a->mknod("g", kIfreg | 0644, 0).value();
  EXPECT_EQ(a->rename("f", *a, "g", 1).error(), EEXIST);
  Ref<Inode> f = must(a->lookup("f"));
  Ref<Inode> g = must(a->lookup("g"));
  ASSERT_TRUE(a->rename("f", *a, "g", 2).ok());
  EXPECT_EQ(must(a->lookup("g")).get(), f.get());
  EXPECT_EQ(must(a->lookup("f")).get(), g.get());
  // A plain move of a directory updates its name for getcwd, and nlink.
  u32 before = a->nlink;
  ASSERT_TRUE(a->rename("b", *other, "moved", 0).ok());
  EXPECT_EQ(cwd_of(b.get()), "/other/moved");
  EXPECT_EQ(a->nlink, before - 1);
  EXPECT_EQ(a->rmdir("missing").error(), ENOENT);
  EXPECT_EQ(other->rmdir("keep").error(), ENOTDIR);
}

TEST(Vfs, UnlinkedFilesLiveWhileReferenced) {
  fresh_root();
  Ref<Inode> f = must(ns().root->mknod("f", kIfreg | 0644, 0));
  ASSERT_TRUE(f->write(0, "data", 4).ok());
  ASSERT_TRUE(ns().root->unlink("f").ok());
  EXPECT_EQ(f->nlink, 0u);
  EXPECT_EQ(read_all(*f), "data");
  EXPECT_EQ(error_of(ns().root->lookup("f")), ENOENT);
  EXPECT_EQ(ns().root->unlink("f").error(), ENOENT);
}

TEST(Vfs, ImageBackedFilesAreCopiedOnWriteAndTruncateCleanly) {
  fresh_root();
  std::string img(3 * 4096, 'i');
  test::set_image(platform::Image::Initramfs, img);
  Ref<Inode> f = must(tmpfs_image_file(*ns().root, "f", 0644, platform::Image::Initramfs, 4096,
                                       6000));
  EXPECT_EQ(f->size, 6000u);
  platform::Image which;
  u64 off = 0, run = 0;
  // The first page is whole in the image: zero-copy; the tail page is not.
  ASSERT_TRUE(f->image_run(0, &which, &off, &run));
  EXPECT_EQ(off, 4096u);
  EXPECT_EQ(run, 4096u);
  EXPECT_FALSE(f->image_run(4096, &which, &off, &run));
  ASSERT_TRUE(f->write(10, "XY", 2).ok());
  EXPECT_FALSE(f->image_run(0, &which, &off, &run));  // written: its own copy now
  std::string s = read_all(*f);
  EXPECT_EQ(s.substr(8, 6), "iiXYii");
  EXPECT_EQ(img[4096 + 10], 'i');  // the image itself is unchanged
  // Shrink then grow: the old bytes must not come back.
  ASSERT_TRUE(f->truncate(100).ok());
  ASSERT_TRUE(f->truncate(5000).ok());
  s = read_all(*f);
  EXPECT_EQ(s.substr(0, 100).find('\0'), std::string::npos);
  EXPECT_EQ(s.substr(100), std::string(4900, '\0'));
}

// --- the root filesystem image --------------------------------------------

struct Entry {
  std::string name;
  u32 mode;
  std::string data;
};

std::string hex8(u32 v) {
  char b[9];
  snprintf(b, sizeof b, "%08X", v);
  return b;
}

std::string newc(const std::vector<Entry>& entries, std::vector<abi::IndexEntry>* index,
                 std::string* names) {
  std::string out;
  u32 ino = 0;
  auto pad = [&] { out.append((4 - out.size() % 4) % 4, '\0'); };
  std::vector<Entry> all = entries;
  all.push_back({"TRAILER!!!", 0, ""});
  for (const auto& e : all) {
    u32 f[13] = {++ino, e.mode, 0, 0, 1, 7, u32(e.data.size()), 0, 0, 0, 0,
                 u32(e.name.size() + 1), 0};
    out += "070701";
    for (u32 v : f) out += hex8(v);
    out += e.name;
    out += '\0';
    pad();
    if (index && e.name != "TRAILER!!!") {
      abi::IndexEntry x{};
      x.mode = e.mode;
      x.name_offset = u32(names->size());
      x.name_length = u32(e.name.size());
      x.mtime = 7;
      x.data_offset = out.size();
      x.size = e.data.size();
      index->push_back(x);
      *names += e.name;
    }
    out += e.data;
    pad();
  }
  return out;
}

std::string with_index(const std::string& cpio, const std::vector<abi::IndexEntry>& index,
                       const std::string& names) {
  std::string out = cpio;
  out.append((8 - out.size() % 8) % 8, '\0');
  abi::IndexFooter footer{out.size(), {}};
  memcpy(footer.magic, abi::kIndexMagic, 8);
  abi::IndexHeader h{};
  memcpy(h.magic, abi::kIndexMagic, 8);
  h.count = u32(index.size());
  h.names_size = u32(names.size());
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(reinterpret_cast<const char*>(index.data()), index.size() * sizeof(abi::IndexEntry));
  out += names;
  out.append((8 - out.size() % 8) % 8, '\0');
  out.append(reinterpret_cast<const char*>(&footer), sizeof footer);
  return out;
}

const std::vector<Entry> kTree = {
    {"usr", kIfdir | 0755, ""},
    {"usr/bin", kIfdir | 0755, ""},
    {"usr/bin/prog", kIfreg | 0755, "#!/bin/sh\necho hi\n"},
    {"usr/lib/deep/x.so", kIfreg | 0644, std::string(5000, 'x')},  // parents implied
    {"bin", kIflnk | 0777, "usr/bin"},
};

void expect_tree() {
  EXPECT_EQ(read_all(*must(resolve(nullptr, "/bin/prog", kFollow))), "#!/bin/sh\necho hi\n");
  Ref<Inode> so = must(resolve(nullptr, "/usr/lib/deep/x.so", kFollow));
  EXPECT_EQ(so->size, 5000u);
  EXPECT_EQ(so->mode, kIfreg | 0644);
  EXPECT_EQ(so->mtime.sec, 7);
  EXPECT_TRUE(must(resolve(nullptr, "/bin", 0))->is_symlink());
}

TEST(Initramfs, HeadersAloneBuildTheTree) {
  fresh_root();
  test::set_image(platform::Image::Initramfs, newc(kTree, nullptr, nullptr));
  u64 bad = 1;
  auto st = unpack_initramfs(*ns().root, platform::Image::Initramfs, &bad);
  ASSERT_TRUE(st.ok()) << "at " << bad;
  EXPECT_EQ(st.value().files, 2u);
  EXPECT_EQ(st.value().symlinks, 1u);
  expect_tree();
}

TEST(Initramfs, TheIndexBuildsTheSameTree) {
  fresh_root();
  std::vector<abi::IndexEntry> index;
  std::string names;
  std::string cpio = newc(kTree, &index, &names);
  // Headers the kernel must not need: with a good index it never reads them.
  cpio.replace(0, 6, "XXXXXX");
  test::set_image(platform::Image::Initramfs, with_index(cpio, index, names));
  u64 bad = 0;
  auto st = unpack_initramfs(*ns().root, platform::Image::Initramfs, &bad);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().files, 2u);
  expect_tree();
}

std::vector<std::string> listing(Inode& dir) {
  std::vector<std::string> names;
  u64 cookie = 0;
  auto sink = [](void* ctx, const DirEntry& e) {
    static_cast<std::vector<std::string>*>(ctx)->push_back(std::string(e.name.data, e.name.size));
    return true;
  };
  EXPECT_TRUE(dir.readdir(&cookie, sink, &names).ok());
  return names;
}

TEST(Initramfs, LazyDirectoriesBehaveLikeEagerOnes) {
  // Sorted names (as the packer writes them), with siblings sorting between a
  // directory and its children ("a.txt" < "a/x") and an implied directory.
  const std::vector<Entry> tree = {
      {"a", kIfdir | 0755, ""},          {"a.txt", kIfreg | 0644, "sibling"},
      {"a/b", kIfdir | 0700, ""},        {"a/b/deep", kIfreg | 0644, "deep"},
      {"a/x", kIfreg | 0644, "x"},       {"implied/f", kIfreg | 0644, "f"},
      {"z", kIflnk | 0777, "a/b"},
  };
  fresh_root();
  std::vector<abi::IndexEntry> index;
  std::string names;
  std::string cpio = newc(tree, &index, &names);
  cpio.replace(0, 6, "XXXXXX");  // only the index can build this tree
  test::set_image(platform::Image::Initramfs, with_index(cpio, index, names));
  u64 bad = 0;
  ASSERT_TRUE(unpack_initramfs(*ns().root, platform::Image::Initramfs, &bad).ok());
  EXPECT_EQ(read_all(*must(resolve(nullptr, "/z/deep", kFollow))), "deep");
  EXPECT_EQ(read_all(*must(resolve(nullptr, "/a.txt", kFollow))), "sibling");
  EXPECT_EQ(read_all(*must(resolve(nullptr, "/implied/f", kFollow))), "f");
  EXPECT_EQ(must(resolve(nullptr, "/a/b", kFollow))->mode, kIfdir | 0700);
  auto top = listing(*ns().root);
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<std::string>{".", "..", "a", "a.txt", "implied", "z"}));
  auto in_a = listing(*must(resolve(nullptr, "/a", kFollow)));
  std::sort(in_a.begin(), in_a.end());
  EXPECT_EQ(in_a, (std::vector<std::string>{".", "..", "b", "x"}));
  // A directory not looked at yet is still not empty, and renames into it work.
  Ref<Inode> a = must(resolve(nullptr, "/a", kFollow));
  EXPECT_EQ(a->rmdir("b").error(), ENOTEMPTY);
  ASSERT_TRUE(ns().root->rename("a.txt", *must(resolve(nullptr, "/implied", kFollow)), "g", 0).ok());
  EXPECT_EQ(read_all(*must(resolve(nullptr, "/implied/g", kFollow))), "sibling");
  EXPECT_EQ(error_of(resolve(nullptr, "/a.txt", kFollow)), ENOENT);
}

TEST(Initramfs, AnUnsortedIndexIsUsedEagerly) {
  fresh_root();
  std::vector<abi::IndexEntry> index;
  std::string names;
  std::string cpio = newc(kTree, &index, &names);
  std::swap(index[0], index[2]);  // out of order: no lazy loading, still a tree
  cpio.replace(0, 6, "XXXXXX");
  test::set_image(platform::Image::Initramfs, with_index(cpio, index, names));
  u64 bad = 0;
  ASSERT_TRUE(unpack_initramfs(*ns().root, platform::Image::Initramfs, &bad).ok());
  expect_tree();
}

TEST(Initramfs, ABadIndexFallsBackToTheHeaders) {
  fresh_root();
  std::vector<abi::IndexEntry> index;
  std::string names;
  std::string cpio = newc(kTree, &index, &names);
  index[2].data_offset = 1u << 30;  // points past the archive
  test::set_image(platform::Image::Initramfs, with_index(cpio, index, names));
  u64 bad = 0;
  ASSERT_TRUE(unpack_initramfs(*ns().root, platform::Image::Initramfs, &bad).ok());
  expect_tree();
}

TEST(Initramfs, DamageIsAnErrorWithItsOffset) {
  std::string good = newc(kTree, nullptr, nullptr);
  struct Case {
    const char* what;
    std::string bytes;
  };
  std::string bad_magic = good;
  bad_magic[5] = '9';
  std::string bad_hex = good;
  bad_hex[20] = 'z';
  std::string truncated = good.substr(0, good.size() - 40);
  std::string huge_size = good;
  // The first entry's c_filesize (field 6) claims more than there is.
  memcpy(&huge_size[6 + 8 * 6], "7FFFFFFF", 8);
  for (const Case& c : {Case{"magic", bad_magic}, Case{"hex", bad_hex},
                        Case{"truncated", truncated}, Case{"size", huge_size}}) {
    fresh_root();
    test::set_image(platform::Image::Initramfs, c.bytes);
    u64 bad = 0;
    auto st = unpack_initramfs(*ns().root, platform::Image::Initramfs, &bad);
    EXPECT_FALSE(st.ok()) << c.what;
    EXPECT_LT(bad, c.bytes.size()) << c.what;
  }
}

}  // namespace
}  // namespace mote::fs
