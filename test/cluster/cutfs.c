/* cutfs: test-only pass-through FUSE file system whose storage a test can "cut".
 *
 *   cutfs <backing-dir> <mountpoint> [fuse options]      (always runs in the foreground)
 *
 * Every operation is forwarded to the same path under <backing-dir>. SIGUSR1 cuts the storage:
 * from then on every operation fails with EIO, including those on file descriptors opened before
 * the cut and those already running when it came. SIGUSR2 restores pass-through.
 *
 * Several mounts of one backing directory must stay coherent (one per simulated host), so nothing
 * is cached: no attribute/entry caching and direct_io on every open file (which also lets clients
 * open with O_DIRECT; the backing file itself is opened without it, so buffer alignment in this
 * daemon does not matter). */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int backing_fd = -1;
static atomic_int storage_cut;

/* Path relative to the backing directory, for the *at() calls. */
static const char *rel(const char *path) { return path[1] ? path + 1 : "."; }

static int result(int res) { return atomic_load(&storage_cut) ? -EIO : res; }
static int result_errno(int rc) { return result(rc == -1 ? -errno : 0); }

#define FAIL_IF_CUT() do { if (atomic_load(&storage_cut)) return -EIO; } while (0)

static void on_cut(int sig) {
  (void)sig;
  atomic_store(&storage_cut, 1);
  static const char msg[] = "cutfs: storage cut\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

static void on_restore(int sig) {
  (void)sig;
  atomic_store(&storage_cut, 0);
  static const char msg[] = "cutfs: storage restored\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

/* The daemon runs as root: give new files to the caller, as a local file system would. */
static void give_to_caller(const char *path) {
  const struct fuse_context *ctx = fuse_get_context();
  if (geteuid() == 0 && ctx) (void)fchownat(backing_fd, rel(path), ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW);
}

static void *cut_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  cfg->use_ino = 1;
  cfg->hard_remove = 1;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->direct_io = 1;
  return NULL;
}

static int cut_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  FAIL_IF_CUT();
  int rc = fi ? fstat((int)fi->fh, st) : fstatat(backing_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
  return result_errno(rc);
}

static int cut_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                       enum fuse_readdir_flags flags) {
  (void)off; (void)fi; (void)flags;
  FAIL_IF_CUT();
  int fd = openat(backing_fd, rel(path), O_RDONLY | O_DIRECTORY);
  if (fd == -1) return result(-errno);
  DIR *dir = fdopendir(fd);
  if (!dir) { int err = errno; close(fd); return result(-err); }
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    struct stat st = { .st_ino = de->d_ino, .st_mode = (mode_t)de->d_type << 12 };
    if (fill(buf, de->d_name, &st, 0, 0)) break;
  }
  closedir(dir);
  return result(0);
}

static int cut_open(const char *path, struct fuse_file_info *fi) {
  FAIL_IF_CUT();
  int fd = openat(backing_fd, rel(path), fi->flags & ~(O_DIRECT | O_CREAT | O_EXCL | O_NOCTTY));
  if (fd == -1) return result(-errno);
  fi->fh = (uint64_t)fd;
  fi->direct_io = 1;
  return result(0);
}

static int cut_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  FAIL_IF_CUT();
  int fd = openat(backing_fd, rel(path), (fi->flags & ~O_DIRECT) | O_CREAT, mode);
  if (fd == -1) return result(-errno);
  give_to_caller(path);
  fi->fh = (uint64_t)fd;
  fi->direct_io = 1;
  return result(0);
}

static int cut_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  FAIL_IF_CUT();
  ssize_t n = pread((int)fi->fh, buf, size, off);
  return result(n == -1 ? -errno : (int)n);
}

static int cut_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  FAIL_IF_CUT();
  ssize_t n = pwrite((int)fi->fh, buf, size, off);
  return result(n == -1 ? -errno : (int)n);
}

static int cut_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  FAIL_IF_CUT();
  if (fi) return result_errno(ftruncate((int)fi->fh, size));
  int fd = openat(backing_fd, rel(path), O_WRONLY);
  if (fd == -1) return result(-errno);
  int rc = ftruncate(fd, size) == -1 ? -errno : 0;
  close(fd);
  return result(rc);
}

static int cut_rename(const char *from, const char *to, unsigned int flags) {
  FAIL_IF_CUT();
  if (flags) return -EINVAL;
  return result_errno(renameat(backing_fd, rel(from), backing_fd, rel(to)));
}

static int cut_unlink(const char *path) {
  FAIL_IF_CUT();
  return result_errno(unlinkat(backing_fd, rel(path), 0));
}

static int cut_mkdir(const char *path, mode_t mode) {
  FAIL_IF_CUT();
  if (mkdirat(backing_fd, rel(path), mode) == -1) return result(-errno);
  give_to_caller(path);
  return result(0);
}

static int cut_rmdir(const char *path) {
  FAIL_IF_CUT();
  return result_errno(unlinkat(backing_fd, rel(path), AT_REMOVEDIR));
}

static int cut_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  FAIL_IF_CUT();
  return result_errno(fi ? fchmod((int)fi->fh, mode) : fchmodat(backing_fd, rel(path), mode, 0));
}

static int cut_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
  FAIL_IF_CUT();
  return result_errno(fi ? fchown((int)fi->fh, uid, gid) : fchownat(backing_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW));
}

static int cut_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  FAIL_IF_CUT();
  return result_errno(fi ? futimens((int)fi->fh, tv) : utimensat(backing_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW));
}

static int cut_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  FAIL_IF_CUT();
  return result_errno(datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh));
}

static int cut_flush(const char *path, struct fuse_file_info *fi) {
  (void)path; (void)fi;
  return result(0);
}

static int cut_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  close((int)fi->fh); /* always: the kernel forgets the handle whatever we answer */
  return result(0);
}

static int cut_statfs(const char *path, struct statvfs *st) {
  (void)path;
  FAIL_IF_CUT();
  return result_errno(fstatvfs(backing_fd, st));
}

static const struct fuse_operations cut_ops = {
  .init = cut_init,
  .getattr = cut_getattr,
  .readdir = cut_readdir,
  .open = cut_open,
  .create = cut_create,
  .read = cut_read,
  .write = cut_write,
  .truncate = cut_truncate,
  .rename = cut_rename,
  .unlink = cut_unlink,
  .mkdir = cut_mkdir,
  .rmdir = cut_rmdir,
  .chmod = cut_chmod,
  .chown = cut_chown,
  .utimens = cut_utimens,
  .fsync = cut_fsync,
  .flush = cut_flush,
  .release = cut_release,
  .statfs = cut_statfs,
};

int main(int argc, char *argv[]) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <backing-dir> <mountpoint> [fuse options]\n", argv[0]);
    return 2;
  }
  backing_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (backing_fd == -1) {
    fprintf(stderr, "cutfs: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  struct sigaction cut = { .sa_handler = on_cut, .sa_flags = SA_RESTART };
  struct sigaction restore = { .sa_handler = on_restore, .sa_flags = SA_RESTART };
  sigaction(SIGUSR1, &cut, NULL);
  sigaction(SIGUSR2, &restore, NULL);

  /* fuse_main(argv0, mountpoint, -f, options...) */
  char **fuse_argv = calloc((size_t)argc + 1, sizeof *fuse_argv);
  if (!fuse_argv) return 1;
  int n = 0;
  fuse_argv[n++] = argv[0];
  fuse_argv[n++] = argv[2];
  fuse_argv[n++] = "-f";
  for (int i = 3; i < argc; i++) fuse_argv[n++] = argv[i];
  return fuse_main(n, fuse_argv, &cut_ops, NULL);
}
