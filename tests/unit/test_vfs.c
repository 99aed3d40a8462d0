/* Tests of the file-I/O layer: the POSIX layer against a temporary
 * directory, and the simulated layer's durability model and fault
 * injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herd.h"
#include "vfs_sim.h"

/* ---- helpers --------------------------------------------------------- */

static void assert_error_mentions(const char *text)
{
    const char *msg = herd_last_error();
    if (!strstr(msg, text)) fail_msg("error '%s' does not mention '%s'", msg, text);
}

/* Write a whole file (create or truncate) through `v`. */
static int put_file(const hd_vfs *v, const char *path, const char *text, int sync)
{
    hd_vfs_file *f = NULL;
    int rc = hd_vfs_open(v, path, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_TRUNC, &f);
    if (rc) return rc;
    rc = hd_vfs_write(f, text, strlen(text));
    if (!rc && sync) rc = hd_vfs_fsync(f);
    int rc2 = hd_vfs_close(f);
    return rc ? rc : rc2;
}

/* Read a whole file as a string into buf (cap bytes). */
static int get_file(const hd_vfs *v, const char *path, char *buf, size_t cap)
{
    hd_vfs_file *f = NULL;
    int rc = hd_vfs_open(v, path, HD_VFS_READ, &f);
    if (rc) return rc;
    size_t got = 0;
    rc = hd_vfs_pread(f, buf, cap - 1, 0, &got);
    buf[got] = '\0';
    int rc2 = hd_vfs_close(f);
    return rc ? rc : rc2;
}

static void assert_file(const hd_vfs *v, const char *path, const char *want)
{
    char buf[256];
    assert_int_equal(get_file(v, path, buf, sizeof buf), HERD_OK);
    assert_string_equal(buf, want);
}

static void assert_missing(const hd_vfs *v, const char *path)
{
    hd_vfs_file *f = NULL;
    assert_int_equal(hd_vfs_open(v, path, HD_VFS_READ, &f), HERD_ENOTFOUND);
    assert_null(f);
    assert_error_mentions(path);
}

typedef struct names {
    char all[512];
    int count;
} names;

static int collect(void *ctx, const char *name)
{
    names *n = ctx;
    strncat(n->all, name, sizeof n->all - strlen(n->all) - 2);
    strcat(n->all, ";");
    n->count++;
    return 0;
}

static int stop_at_first(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return 42;
}

/* ---- POSIX layer ----------------------------------------------------- */

typedef struct tmpdir {
    char dir[64];
    char path[8][128];
} tmpdir;

static int tmp_setup(void **state)
{
    tmpdir *t = calloc(1, sizeof *t);
    if (!t) return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/herd_vfs_XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int rm_entry(void *ctx, const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", (const char *)ctx, name);
    if (unlink(p)) {
        /* a subdirectory: empty it first */
        hd_vfs_list_dir(hd_vfs_posix(), p, rm_entry, p);
        rmdir(p);
    }
    return 0;
}

static int tmp_teardown(void **state)
{
    tmpdir *t = *state;
    hd_vfs_list_dir(hd_vfs_posix(), t->dir, rm_entry, t->dir);
    rmdir(t->dir);
    free(t);
    return 0;
}

static const char *tp(tmpdir *t, int i, const char *name)
{
    snprintf(t->path[i], sizeof t->path[i], "%s/%s", t->dir, name);
    return t->path[i];
}

static void test_posix_file_ops(void **state)
{
    tmpdir *t = *state;
    const hd_vfs *v = hd_vfs_posix();
    const char *a = tp(t, 0, "a"), *b = tp(t, 1, "b"), *sub = tp(t, 2, "sub");
    hd_vfs_file *f = NULL;

    assert_int_equal(hd_vfs_open(v, a, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_EXCL, &f), HERD_OK);
    assert_string_equal(f->path, a);
    assert_int_equal(hd_vfs_pwrite(f, "hello world", 11, 0), HERD_OK);
    assert_int_equal(hd_vfs_pwrite(f, "W", 1, 6), HERD_OK);
    char buf[64] = {0};
    size_t got = 0;
    assert_int_equal(hd_vfs_pread(f, buf, sizeof buf, 0, &got), HERD_OK);
    assert_int_equal(got, 11); /* stopped at end of file */
    assert_memory_equal(buf, "hello World", 11);
    assert_int_equal(hd_vfs_pread(f, buf, 4, 100, &got), HERD_OK);
    assert_int_equal(got, 0);
    assert_int_equal(hd_vfs_fsync(f), HERD_OK);
    assert_int_equal(hd_vfs_fdatasync(f), HERD_OK);
    uint64_t size = 0;
    assert_int_equal(hd_vfs_size(f, &size), HERD_OK);
    assert_int_equal(size, 11);
    assert_int_equal(hd_vfs_truncate(f, 5), HERD_OK);
    assert_int_equal(hd_vfs_size(f, &size), HERD_OK);
    assert_int_equal(size, 5);
    assert_int_equal(hd_vfs_close(f), HERD_OK);

    /* append mode writes at the end whatever the position */
    assert_int_equal(hd_vfs_open(v, a, HD_VFS_RDWR | HD_VFS_APPEND, &f), HERD_OK);
    assert_int_equal(hd_vfs_write(f, "!", 1), HERD_OK);
    assert_int_equal(hd_vfs_write(f, "?", 1), HERD_OK);
    assert_int_equal(hd_vfs_close(f), HERD_OK);
    assert_file(v, a, "hello!?");

    /* sequential read */
    assert_int_equal(hd_vfs_open(v, a, HD_VFS_READ, &f), HERD_OK);
    assert_int_equal(hd_vfs_read(f, buf, 3, &got), HERD_OK);
    assert_int_equal(got, 3);
    assert_int_equal(hd_vfs_read(f, buf, sizeof buf, &got), HERD_OK);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "lo!?", 4);
    assert_int_equal(hd_vfs_close(f), HERD_OK);

    assert_int_equal(hd_vfs_rename(v, a, b), HERD_OK);
    assert_missing(v, a);
    assert_file(v, b, "hello!?");
    assert_int_equal(hd_vfs_mkdir(v, sub), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, t->dir), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, sub), HERD_OK);

    names n = {{0}, 0};
    assert_int_equal(hd_vfs_list_dir(v, t->dir, collect, &n), HERD_OK);
    assert_int_equal(n.count, 2);
    assert_non_null(strstr(n.all, "b;"));
    assert_non_null(strstr(n.all, "sub;"));
    assert_int_equal(hd_vfs_list_dir(v, t->dir, stop_at_first, NULL), 42);

    assert_int_equal(hd_vfs_unlink(v, b), HERD_OK);
    assert_missing(v, b);
    assert_int_equal(hd_vfs_close(NULL), HERD_OK);
}

static void test_posix_errors(void **state)
{
    tmpdir *t = *state;
    const hd_vfs *v = hd_vfs_posix();
    const char *a = tp(t, 0, "a"), *missing = tp(t, 1, "nodir/x");
    hd_vfs_file *f = NULL;

    assert_int_equal(hd_vfs_open(v, missing, HD_VFS_RDWR | HD_VFS_CREATE, &f), HERD_ENOTFOUND);
    assert_error_mentions(missing);
    assert_error_mentions("open");
    assert_int_equal(put_file(v, a, "x", 1), HERD_OK);
    assert_int_equal(hd_vfs_open(v, a, HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_EXCL, &f),
                     HERD_EEXISTS);
    assert_error_mentions(a);
    assert_int_equal(hd_vfs_open(v, a, 0, &f), HERD_EINVAL);

    /* writing a read-only file: EBADF -> HERD_EIO naming the path */
    assert_int_equal(hd_vfs_open(v, a, HD_VFS_READ, &f), HERD_OK);
    assert_int_equal(hd_vfs_write(f, "y", 1), HERD_EIO);
    assert_error_mentions(a);
    assert_error_mentions("write");
    assert_int_equal(hd_vfs_close(f), HERD_OK);

    assert_int_equal(hd_vfs_rename(v, missing, a), HERD_ENOTFOUND);
    assert_error_mentions(missing);
    assert_int_equal(hd_vfs_unlink(v, missing), HERD_ENOTFOUND);
    assert_error_mentions("unlink");
    assert_int_equal(hd_vfs_mkdir(v, t->dir), HERD_EEXISTS);
    assert_int_equal(hd_vfs_sync_dir(v, missing), HERD_ENOTFOUND);
    assert_int_equal(hd_vfs_list_dir(v, missing, collect, NULL), HERD_ENOTFOUND);
    assert_error_mentions(missing);
}

/* The property classic fcntl locks lack: closing another descriptor of the
 * same file in the same process does not drop an OFD lock. */
static void test_posix_ofd_locks(void **state)
{
    tmpdir *t = *state;
    const hd_vfs *v = hd_vfs_posix();
    const char *a = tp(t, 0, "lock");
    hd_vfs_file *f1 = NULL, *f2 = NULL, *f3 = NULL;
    unsigned rw = HD_VFS_RDWR | HD_VFS_CREATE;
    assert_int_equal(hd_vfs_open(v, a, rw, &f1), HERD_OK);
    assert_int_equal(hd_vfs_open(v, a, rw, &f2), HERD_OK);
    assert_int_equal(hd_vfs_open(v, a, rw, &f3), HERD_OK);

    assert_int_equal(hd_vfs_lock(f1, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 0), HERD_OK);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 0), HERD_EBUSY);
    assert_error_mentions(a);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_SHARED, 0, 0, 0), HERD_EBUSY);
    /* a disjoint range is free */
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 1, 1, 0), HERD_OK);

    assert_int_equal(hd_vfs_close(f3), HERD_OK); /* would drop a classic lock */
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 0), HERD_EBUSY);

    assert_int_equal(hd_vfs_lock(f1, HD_VFS_UNLOCK, 0, 1, 0), HERD_OK);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 0, 1, 1), HERD_OK);
    assert_int_equal(hd_vfs_lock(f1, HD_VFS_LOCK_SHARED, 0, 2, 0), HERD_EBUSY);
    /* closing the holder releases */
    assert_int_equal(hd_vfs_close(f2), HERD_OK);
    assert_int_equal(hd_vfs_lock(f1, HD_VFS_LOCK_SHARED, 0, 2, 0), HERD_OK);
    assert_int_equal(hd_vfs_close(f1), HERD_OK);
}

/* ---- simulated layer ------------------------------------------------- */

static void test_sim_fsync_durability(void **state)
{
    (void)state;
    hd_vfs_sim *sim = hd_vfs_sim_new(1, 0);
    assert_non_null(sim);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    assert_int_equal(hd_vfs_mkdir(v, "/reg"), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "/"), HERD_OK);

    assert_int_equal(put_file(v, "/reg/synced", "durable", 1), HERD_OK);
    assert_int_equal(put_file(v, "/reg/unsynced", "volatile", 0), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "/reg"), HERD_OK);

    /* more data after the fsync: lost */
    hd_vfs_file *f = NULL;
    assert_int_equal(hd_vfs_open(v, "reg/synced", HD_VFS_RDWR | HD_VFS_APPEND, &f), HERD_OK);
    assert_int_equal(hd_vfs_write(f, "+more", 5), HERD_OK);
    assert_file(v, "/reg/synced", "durable+more"); /* reads see it */

    hd_vfs_sim_power_loss(sim);
    assert_file(v, "/reg/synced", "durable");
    assert_file(v, "/reg/unsynced", ""); /* the name was synced, the data not */

    /* the open file is stale: fails, but must still be closed */
    assert_int_equal(hd_vfs_write(f, "x", 1), HERD_EIO);
    assert_error_mentions("reg/synced");
    assert_int_equal(hd_vfs_close(f), HERD_OK);

    /* fdatasync persists too */
    assert_int_equal(hd_vfs_open(v, "/reg/unsynced", HD_VFS_RDWR, &f), HERD_OK);
    assert_int_equal(hd_vfs_pwrite(f, "abc", 3, 0), HERD_OK);
    assert_int_equal(hd_vfs_fdatasync(f), HERD_OK);
    assert_int_equal(hd_vfs_truncate(f, 2), HERD_OK); /* not synced */
    hd_vfs_sim_power_loss(sim);
    assert_int_equal(hd_vfs_close(f), HERD_OK);
    assert_file(v, "/reg/unsynced", "abc");
    hd_vfs_sim_free(sim);
}

static void test_sim_directory_durability(void **state)
{
    (void)state;
    hd_vfs_sim *sim = hd_vfs_sim_new(2, 0);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);

    /* fsynced data, but the directory entry was not */
    assert_int_equal(put_file(v, "new", "data", 1), HERD_OK);
    hd_vfs_sim_power_loss(sim);
    assert_missing(v, "new");

    /* a rename not followed by a directory fsync reverts */
    assert_int_equal(put_file(v, "target", "old", 1), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "/"), HERD_OK);
    assert_int_equal(put_file(v, "tmp", "new", 1), HERD_OK);
    assert_int_equal(hd_vfs_rename(v, "tmp", "target"), HERD_OK);
    assert_file(v, "target", "new");
    assert_missing(v, "tmp");
    hd_vfs_sim_power_loss(sim);
    assert_file(v, "target", "old");
    assert_missing(v, "tmp");

    /* ... and sticks once the directory is fsynced */
    assert_int_equal(put_file(v, "tmp", "new", 1), HERD_OK);
    assert_int_equal(hd_vfs_rename(v, "tmp", "target"), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "."), HERD_OK);
    hd_vfs_sim_power_loss(sim);
    assert_file(v, "target", "new");

    /* an unlink not synced reverts; a subdirectory needs its parent synced */
    assert_int_equal(hd_vfs_unlink(v, "target"), HERD_OK);
    assert_missing(v, "target");
    assert_int_equal(hd_vfs_mkdir(v, "d"), HERD_OK);
    assert_int_equal(put_file(v, "d/f", "x", 1), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "d"), HERD_OK);
    hd_vfs_sim_power_loss(sim);
    assert_file(v, "target", "new");
    assert_missing(v, "d");

    names n = {{0}, 0};
    assert_int_equal(hd_vfs_list_dir(v, "/", collect, &n), HERD_OK);
    assert_string_equal(n.all, "target;");
    assert_int_equal(hd_vfs_list_dir(v, "/", stop_at_first, NULL), 42);
    hd_vfs_sim_free(sim);
}

static void test_sim_errors(void **state)
{
    (void)state;
    hd_vfs_sim *sim = hd_vfs_sim_new(3, 0);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    hd_vfs_file *f = NULL;
    assert_int_equal(hd_vfs_open(v, "a/b", HD_VFS_RDWR | HD_VFS_CREATE, &f), HERD_ENOTFOUND);
    assert_error_mentions("a/b");
    assert_int_equal(hd_vfs_open(v, "../x", HD_VFS_RDWR | HD_VFS_CREATE, &f), HERD_EIO);
    assert_int_equal(put_file(v, "a", "1", 0), HERD_OK);
    assert_int_equal(hd_vfs_open(v, "a", HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_EXCL, &f),
                     HERD_EEXISTS);
    /* ENOTDIR: a file where a directory belongs is the wrong kind of path */
    assert_int_equal(hd_vfs_open(v, "a/b", HD_VFS_READ, &f), HERD_EFORMAT);
    assert_error_mentions("a/b");
    assert_int_equal(hd_vfs_mkdir(v, "a"), HERD_EEXISTS);
    assert_int_equal(hd_vfs_rename(v, "zz", "a"), HERD_ENOTFOUND);
    assert_error_mentions("zz");
    assert_int_equal(hd_vfs_open(v, "a", HD_VFS_READ, &f), HERD_OK);
    assert_int_equal(hd_vfs_write(f, "x", 1), HERD_EIO);
    assert_int_equal(hd_vfs_lock(f, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0), HERD_EIO);
    assert_int_equal(hd_vfs_close(f), HERD_OK);
    assert_int_equal(hd_vfs_mkdir(v, "d"), HERD_OK);
    assert_int_equal(hd_vfs_unlink(v, "d"), HERD_EIO);
    assert_int_equal(hd_vfs_rename(v, "d", "d/e"), HERD_EIO);
    hd_vfs_sim_free(sim);
}

static void test_sim_fail_at(void **state)
{
    (void)state;
    hd_vfs_sim *sim = hd_vfs_sim_new(4, 0);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    hd_vfs_file *f = NULL;
    assert_int_equal(put_file(v, "j", "base", 1), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "/"), HERD_OK);
    assert_int_equal(hd_vfs_open(v, "j", HD_VFS_RDWR | HD_VFS_APPEND, &f), HERD_OK);

    /* the 3rd write fails; reads and other ops do not count */
    hd_vfs_sim_fail_at(sim, 3, HD_VFS_OP_WRITE, ENOSPC);
    assert_int_equal(hd_vfs_write(f, "1", 1), HERD_OK);
    size_t got;
    char buf[32];
    assert_int_equal(hd_vfs_pread(f, buf, sizeof buf, 0, &got), HERD_OK);
    assert_int_equal(hd_vfs_write(f, "2", 1), HERD_OK);
    assert_int_equal(hd_vfs_write(f, "3", 1), HERD_EIO);
    assert_error_mentions("no space left");
    assert_error_mentions("j");
    assert_int_equal(hd_vfs_write(f, "4", 1), HERD_OK); /* only once */
    assert_file(v, "j", "base124");                      /* the failed write wrote nothing */

    /* a failed fsync leaves the durable content as it was ... */
    hd_vfs_sim_fail_at(sim, 1, HD_VFS_OP_FSYNC, EIO);
    assert_int_equal(hd_vfs_fsync(f), HERD_EIO);
    assert_error_mentions("fsync");
    assert_error_mentions("Input/output error");
    /* ... and a retry that "succeeds" does not make the data durable */
    assert_int_equal(hd_vfs_fsync(f), HERD_OK);
    hd_vfs_sim_power_loss(sim);
    assert_int_equal(hd_vfs_close(f), HERD_OK);
    assert_file(v, "j", "base");

    /* rolling back to the durable length clears the poison */
    assert_int_equal(hd_vfs_open(v, "j", HD_VFS_RDWR, &f), HERD_OK);
    assert_int_equal(hd_vfs_pwrite(f, "X", 1, 4), HERD_OK);
    hd_vfs_sim_fail_at(sim, 1, HD_VFS_OP_FSYNC, EIO);
    assert_int_equal(hd_vfs_fdatasync(f), HERD_EIO);
    assert_int_equal(hd_vfs_truncate(f, 4), HERD_OK);
    assert_int_equal(hd_vfs_pwrite(f, "Y", 1, 4), HERD_OK);
    assert_int_equal(hd_vfs_fsync(f), HERD_OK);
    assert_int_equal(hd_vfs_close(f), HERD_OK);
    hd_vfs_sim_power_loss(sim);
    assert_file(v, "j", "baseY");

    /* failed rename and open change nothing; the call counter counts them */
    uint64_t renames = hd_vfs_sim_calls(sim, HD_VFS_OP_RENAME);
    hd_vfs_sim_fail_at(sim, 1, HD_VFS_OP_RENAME | HD_VFS_OP_OPEN, EIO);
    assert_int_equal(hd_vfs_rename(v, "j", "k"), HERD_EIO);
    assert_error_mentions("j");
    assert_file(v, "j", "baseY");
    assert_missing(v, "k");
    assert_int_equal(hd_vfs_sim_calls(sim, HD_VFS_OP_RENAME), renames + 1);
    hd_vfs_sim_fail_at(sim, 2, HD_VFS_OP_OPEN, EIO);
    assert_int_equal(put_file(v, "n1", "", 0), HERD_OK);
    assert_int_equal(put_file(v, "n2", "", 0), HERD_EIO);
    assert_missing(v, "n2");
    hd_vfs_sim_free(sim);
}

static void test_sim_torn_appends(void **state)
{
    (void)state;
    int saw_partial = 0, saw_none = 0;
    for (uint64_t seed = 0; seed < 40; seed++) {
        hd_vfs_sim *sim = hd_vfs_sim_new(seed, HD_VFS_SIM_TORN_APPENDS);
        const hd_vfs *v = hd_vfs_sim_vfs(sim);
        assert_int_equal(put_file(v, "log", "head|", 1), HERD_OK);
        assert_int_equal(hd_vfs_sync_dir(v, "/"), HERD_OK);
        hd_vfs_file *f = NULL;
        assert_int_equal(hd_vfs_open(v, "log", HD_VFS_RDWR | HD_VFS_APPEND, &f), HERD_OK);
        assert_int_equal(hd_vfs_write(f, "0123456789", 10), HERD_OK);
        hd_vfs_sim_power_loss(sim);
        assert_int_equal(hd_vfs_close(f), HERD_OK);
        char buf[64];
        assert_int_equal(get_file(v, "log", buf, sizeof buf), HERD_OK);
        size_t len = strlen(buf);
        assert_true(len >= 5 && len <= 15);
        assert_memory_equal(buf, "head|0123456789", len); /* a prefix */
        saw_partial |= len > 5 && len < 15;
        saw_none |= len == 5;
        hd_vfs_sim_free(sim);
    }
    assert_true(saw_partial);
    assert_true(saw_none);

    /* an overwrite below the durable length is never torn in */
    hd_vfs_sim *sim = hd_vfs_sim_new(9, HD_VFS_SIM_TORN_APPENDS);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    assert_int_equal(put_file(v, "log", "abc", 1), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "/"), HERD_OK);
    hd_vfs_file *f = NULL;
    assert_int_equal(hd_vfs_open(v, "log", HD_VFS_RDWR, &f), HERD_OK);
    assert_int_equal(hd_vfs_pwrite(f, "XYZW", 4, 1), HERD_OK);
    hd_vfs_sim_power_loss(sim);
    assert_int_equal(hd_vfs_close(f), HERD_OK);
    assert_file(v, "log", "abc");
    hd_vfs_sim_free(sim);
}

static void test_sim_locks(void **state)
{
    (void)state;
    hd_vfs_sim *sim = hd_vfs_sim_new(5, 0);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    hd_vfs_file *f1 = NULL, *f2 = NULL, *f3 = NULL, *other = NULL;
    unsigned rw = HD_VFS_RDWR | HD_VFS_CREATE;
    assert_int_equal(hd_vfs_open(v, "lock", rw, &f1), HERD_OK);
    assert_int_equal(hd_vfs_open(v, "lock", rw, &f2), HERD_OK);
    assert_int_equal(hd_vfs_open(v, "lock", rw, &f3), HERD_OK);
    assert_int_equal(hd_vfs_open(v, "other", rw, &other), HERD_OK);

    assert_int_equal(hd_vfs_lock(f1, HD_VFS_LOCK_EXCLUSIVE, 10, 10, 0), HERD_OK);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_SHARED, 19, 1, 0), HERD_EBUSY);
    assert_error_mentions("lock");
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0), HERD_EBUSY);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 20, 0, 0), HERD_OK);
    assert_int_equal(hd_vfs_lock(other, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0), HERD_OK);
    /* re-locking one's own range never conflicts */
    assert_int_equal(hd_vfs_lock(f1, HD_VFS_LOCK_SHARED, 0, 20, 0), HERD_OK);
    assert_int_equal(hd_vfs_close(f3), HERD_OK);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 15, 1, 0), HERD_EBUSY);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_SHARED, 15, 1, 0), HERD_OK); /* now shared */

    /* unlocking the middle splits the range */
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_UNLOCK, 0, 0, 0), HERD_OK);
    assert_int_equal(hd_vfs_lock(f1, HD_VFS_UNLOCK, 5, 10, 0), HERD_OK);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 5, 10, 0), HERD_OK);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 4, 1, 0), HERD_EBUSY);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 15, 1, 0), HERD_EBUSY);

    /* a power loss drops every lock and makes the files stale */
    hd_vfs_sim_power_loss(sim);
    assert_int_equal(hd_vfs_lock(f2, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 0), HERD_EIO);
    assert_int_equal(hd_vfs_close(f1), HERD_OK);
    assert_int_equal(hd_vfs_close(f2), HERD_OK);
    assert_int_equal(hd_vfs_close(other), HERD_OK);
    hd_vfs_sim_free(sim);
}

static void *lock_waiter(void *arg)
{
    hd_vfs_file *f = arg;
    return (void *)(intptr_t)hd_vfs_lock(f, HD_VFS_LOCK_EXCLUSIVE, 0, 0, 1);
}

/* A waiting lock blocks until the holder unlocks (here: closes). */
static void test_sim_lock_wait(void **state)
{
    (void)state;
    hd_vfs_sim *sim = hd_vfs_sim_new(6, 0);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    hd_vfs_file *f1 = NULL, *f2 = NULL;
    assert_int_equal(hd_vfs_open(v, "lock", HD_VFS_RDWR | HD_VFS_CREATE, &f1), HERD_OK);
    assert_int_equal(hd_vfs_open(v, "lock", HD_VFS_RDWR, &f2), HERD_OK);
    assert_int_equal(hd_vfs_lock(f1, HD_VFS_LOCK_SHARED, 0, 0, 0), HERD_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, lock_waiter, f2), 0);
    usleep(20000); /* let it block (the test passes either way) */
    assert_int_equal(hd_vfs_close(f1), HERD_OK);
    void *ret = NULL;
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_int_equal((int)(intptr_t)ret, HERD_OK);
    assert_int_equal(hd_vfs_close(f2), HERD_OK);
    hd_vfs_sim_free(sim);
}

/* ---- every fault point of an atomic replace -------------------------- */

/* The classic atomic replace.  Stops at the first error, as a correct
 * caller does. */
static int replace_workload(const hd_vfs *v, const char *content)
{
    hd_vfs_file *f = NULL;
    int rc = hd_vfs_open(v, "reg/target.tmp", HD_VFS_RDWR | HD_VFS_CREATE | HD_VFS_TRUNC, &f);
    if (rc) return rc;
    size_t half = strlen(content) / 2;
    rc = hd_vfs_write(f, content, half);
    if (!rc) rc = hd_vfs_write(f, content + half, strlen(content) - half);
    if (!rc) rc = hd_vfs_fsync(f);
    int rc2 = hd_vfs_close(f);
    if (!rc) rc = rc2;
    if (!rc) rc = hd_vfs_rename(v, "reg/target.tmp", "reg/target");
    if (!rc) rc = hd_vfs_sync_dir(v, "reg");
    return rc;
}

static hd_vfs_sim *replace_setup(uint64_t seed, unsigned options)
{
    hd_vfs_sim *sim = hd_vfs_sim_new(seed, options);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    assert_int_equal(hd_vfs_mkdir(v, "reg"), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "/"), HERD_OK);
    assert_int_equal(put_file(v, "reg/target", "OLD CONTENT v1", 1), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "reg"), HERD_OK);
    return sim;
}

static void test_sim_enumerate_replace(void **state)
{
    (void)state;
    const char *new_content = "NEW CONTENT, version two";
    /* a dry run counts the fault points */
    hd_vfs_sim *sim = replace_setup(0, 0);
    uint64_t before = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL);
    assert_int_equal(replace_workload(hd_vfs_sim_vfs(sim), new_content), HERD_OK);
    uint64_t n_calls = hd_vfs_sim_calls(sim, HD_VFS_OP_ALL) - before;
    hd_vfs_sim_free(sim);
    assert_int_equal(n_calls, 7); /* open, 2 writes, fsync, close, rename, sync_dir */

    const int errs[] = {EIO, ENOSPC};
    unsigned runs = 0, saw_new = 0, saw_old = 0;
    for (unsigned opts = 0; opts <= HD_VFS_SIM_TORN_APPENDS; opts++)
        for (size_t e = 0; e < 2; e++)
            for (uint64_t n = 1; n <= n_calls + 1; n++) { /* n_calls + 1: no fault */
                sim = replace_setup(n, opts);
                const hd_vfs *v = hd_vfs_sim_vfs(sim);
                hd_vfs_sim_fail_at(sim, n, HD_VFS_OP_ALL, errs[e]);
                int rc = replace_workload(v, new_content);
                assert_int_equal(rc == HERD_OK, n > n_calls);
                hd_vfs_sim_fail_at(sim, 0, 0, 0); /* disarm the unreached fault */
                hd_vfs_sim_power_loss(sim);
                char buf[64];
                assert_int_equal(get_file(v, "reg/target", buf, sizeof buf), HERD_OK);
                if (strcmp(buf, "OLD CONTENT v1") && strcmp(buf, new_content))
                    fail_msg("fault %llu (errno %d): target is '%s'", (unsigned long long)n,
                             errs[e], buf);
                /* success means durable */
                if (rc == HERD_OK) assert_string_equal(buf, new_content);
                saw_new += !strcmp(buf, new_content);
                saw_old += !strcmp(buf, "OLD CONTENT v1");
                runs++;
                hd_vfs_sim_free(sim);
            }
    assert_int_equal(runs, 4 * (n_calls + 1));
    assert_true(saw_new > 0 && saw_old > 0);

    /* the fsync-free variant is caught: skipping the data fsync can leave
     * an empty target after a power loss */
    sim = replace_setup(1, 0);
    const hd_vfs *v = hd_vfs_sim_vfs(sim);
    assert_int_equal(put_file(v, "reg/target.tmp", new_content, 0), HERD_OK);
    assert_int_equal(hd_vfs_rename(v, "reg/target.tmp", "reg/target"), HERD_OK);
    assert_int_equal(hd_vfs_sync_dir(v, "reg"), HERD_OK);
    hd_vfs_sim_power_loss(sim);
    assert_file(v, "reg/target", "");
    hd_vfs_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_posix_file_ops, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_posix_errors, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_posix_ofd_locks, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_sim_fsync_durability),
        cmocka_unit_test(test_sim_directory_durability),
        cmocka_unit_test(test_sim_errors),
        cmocka_unit_test(test_sim_fail_at),
        cmocka_unit_test(test_sim_torn_appends),
        cmocka_unit_test(test_sim_locks),
        cmocka_unit_test(test_sim_lock_wait),
        cmocka_unit_test(test_sim_enumerate_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
