/* vfs_sim.c -- the simulated filesystem of the tests (vfs_sim.h): files and
 * directories in memory, with a current and a durable state each, power
 * loss, crashes and injected faults.  Moved out of the library's vfs.c: it
 * is compiled into the test programs that use it, never into libherd.
 * Errors go through the library's hd_vfs_fail, as the POSIX layer's do. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herd.h"
#include "common/error_internal.h"
#include "common/mem_internal.h"
#include "vfs_sim.h"

/* ---- Simulated layer ------------------------------------------------- */

typedef struct sim_node sim_node;

typedef struct sim_buf {
    unsigned char *p;
    size_t n, cap;
} sim_buf;

typedef struct sim_ent {
    char *name;
    sim_node *node;
} sim_ent;

typedef struct sim_tab {
    sim_ent *v;
    size_t n, cap;
} sim_tab;

/* A file or a directory.  Nodes are not reference-counted: every node is on
 * sim->nodes until a power loss sweeps the ones no durable entry reaches (an
 * unlinked file may still be named by a durable table, so it must live). */
struct sim_node {
    sim_node *next; /* on sim->nodes */
    int is_dir, mark;
    sim_buf cur, dur;   /* files */
    size_t dirty_from;  /* lowest offset changed since the last fsync; SIZE_MAX if none */
    int poisoned;       /* an fsync failed: see the header */
    sim_tab cur_ents, dur_ents; /* directories */
};

typedef struct sim_range {
    uint64_t start, end; /* [start, end); end UINT64_MAX: to the end of the file */
    int kind;
} sim_range;

typedef struct sim_file {
    hd_vfs_file base;
    struct sim_file *prev, *next; /* on sim->files */
    hd_vfs_sim *sim;
    sim_node *node; /* NULL once stale (after a power loss) */
    unsigned flags;
    uint64_t pos;
    sim_range *locks;
    size_t nlocks, caplocks;
} sim_file;

enum { SIM_NOPS = 14 };

struct hd_vfs_sim {
    hd_vfs vfs;
    pthread_mutex_t mu;
    pthread_cond_t unlocked; /* broadcast when any lock is released */
    sim_node *nodes, *root;
    sim_file *files;
    uint64_t rng;
    unsigned options;
    uint64_t calls[SIM_NOPS];
    uint64_t fail_n, fail_seen;
    unsigned fail_mask;
    int fail_err;
    uint64_t crash_n, crash_seen;
    unsigned crash_mask;
    int down; /* crashed: every call fails until hd_vfs_sim_restart */
    uint64_t capacity; /* bytes the named files may hold; 0: no limit */
    uint64_t enospc;   /* writes refused for want of space */
};

static void sim_power_loss_locked(hd_vfs_sim *sim);

static hd_vfs_sim *sim_of(const hd_vfs *vfs) { return vfs->user; }
static sim_file *sf(hd_vfs_file *f) { return (sim_file *)f; }

/* splitmix64: small, seedable, good enough for choosing torn tails. */
static uint64_t sim_rand(hd_vfs_sim *sim)
{
    uint64_t z = (sim->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Count a call of class `op` and decide whether the armed fault fires:
 * 0, or the errno the call must fail with. */
static int sim_enter(hd_vfs_sim *sim, unsigned op)
{
    if (sim->down) return EIO;
    if (sim->crash_n && (sim->crash_mask & op) && ++sim->crash_seen == sim->crash_n) {
        sim->crash_n = 0;
        sim_power_loss_locked(sim);
        sim->down = 1;
        return EIO;
    }
    unsigned i = 0;
    while (!((op >> i) & 1u)) i++;
    sim->calls[i]++;
    if (sim->fail_n && (sim->fail_mask & op) && ++sim->fail_seen == sim->fail_n) {
        sim->fail_n = 0; /* once */
        return sim->fail_err;
    }
    return 0;
}

/* -- buffers and tables -- */

static int buf_reserve(sim_buf *b, size_t need)
{
    if (need <= b->cap) return 0;
    return hd_grow((void **)&b->p, &b->cap, need, 1) ? ENOMEM : 0;
}

/* Set b to the `n` bytes at p. */
static int buf_assign(sim_buf *b, const unsigned char *p, size_t n)
{
    if (buf_reserve(b, n)) return ENOMEM;
    if (n) memmove(b->p, p, n);
    b->n = n;
    return 0;
}

/* Resize to n bytes, zero-filling growth (as a hole reads as zeros). */
static int buf_resize(sim_buf *b, size_t n)
{
    if (buf_reserve(b, n)) return ENOMEM;
    if (n > b->n) memset(b->p + b->n, 0, n - b->n);
    b->n = n;
    return 0;
}

static void tab_clear(sim_tab *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->v[i].name);
    t->n = 0;
}

static void tab_free(sim_tab *t)
{
    tab_clear(t);
    free(t->v);
    t->v = NULL;
    t->cap = 0;
}

static sim_ent *tab_find(sim_tab *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].name, name)) return &t->v[i];
    return NULL;
}

static int tab_add(sim_tab *t, const char *name, sim_node *node)
{
    char *copy = hd_strdup(name);
    if (!copy || hd_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v)) {
        free(copy);
        return ENOMEM;
    }
    t->v[t->n].name = copy;
    t->v[t->n].node = node;
    t->n++;
    return 0;
}

static void tab_remove(sim_tab *t, sim_ent *e)
{
    free(e->name);
    *e = t->v[--t->n]; /* order is unspecified, so swap with the last */
}

/* dst = copy of src; on ENOMEM dst is left unchanged. */
static int tab_copy(sim_tab *dst, const sim_tab *src)
{
    sim_tab t = {0};
    for (size_t i = 0; i < src->n; i++)
        if (tab_add(&t, src->v[i].name, src->v[i].node)) {
            tab_free(&t);
            return ENOMEM;
        }
    tab_free(dst);
    *dst = t;
    return 0;
}

static sim_node *node_new(hd_vfs_sim *sim, int is_dir)
{
    sim_node *n = hd_calloc(1, sizeof *n);
    if (!n) return NULL;
    n->is_dir = is_dir;
    n->dirty_from = SIZE_MAX;
    n->next = sim->nodes;
    sim->nodes = n;
    return n;
}

static void node_free(sim_node *n)
{
    free(n->cur.p);
    free(n->dur.p);
    tab_free(&n->cur_ents);
    tab_free(&n->dur_ents);
    free(n);
}

/* -- paths -- */

/* Resolve `path` to its parent directory and last component (malloc'd).
 * *name is NULL for the root itself.  Empty components and "." are skipped;
 * ".." is rejected, so nothing escapes the sim's root. */
static int sim_resolve(hd_vfs_sim *sim, const char *path, sim_node **dir, char **name)
{
    *dir = NULL;
    *name = NULL;
    char *copy = hd_strdup(path);
    if (!copy) return ENOMEM;
    sim_node *d = sim->root;
    char *last = NULL, *save = NULL;
    int err = 0;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..")) {
            err = EINVAL;
            break;
        }
        if (last) { /* the previous component must be a directory */
            sim_ent *e = tab_find(&d->cur_ents, last);
            if (!e) {
                err = ENOENT;
                break;
            }
            if (!e->node->is_dir) {
                err = ENOTDIR;
                break;
            }
            d = e->node;
        }
        last = c;
    }
    if (!err && last && !(*name = hd_strdup(last))) err = ENOMEM;
    if (!err) *dir = d;
    free(copy);
    return err;
}

/* The node `path` names, or an errno. */
static int sim_lookup(hd_vfs_sim *sim, const char *path, sim_node **out)
{
    sim_node *dir;
    char *name;
    int err = sim_resolve(sim, path, &dir, &name);
    if (err) return err;
    if (!name) {
        *out = sim->root;
        return 0;
    }
    sim_ent *e = tab_find(&dir->cur_ents, name);
    free(name);
    if (!e) return ENOENT;
    *out = e->node;
    return 0;
}

/* -- file operations -- */

static int sim_open_locked(hd_vfs_sim *sim, const char *path, unsigned flags, sim_node **out)
{
    int err = sim_enter(sim, HD_VFS_OP_OPEN);
    if (err) return err;
    sim_node *dir;
    char *name;
    if ((err = sim_resolve(sim, path, &dir, &name))) return err;
    if (!name) return EISDIR;
    sim_ent *e = tab_find(&dir->cur_ents, name);
    sim_node *n = e ? e->node : NULL;
    if (n && (flags & HD_VFS_CREATE) && (flags & HD_VFS_EXCL)) err = EEXIST;
    else if (n && n->is_dir) err = EISDIR;
    else if (!n && !(flags & HD_VFS_CREATE)) err = ENOENT;
    else if (!n && (!(n = node_new(sim, 0)) || tab_add(&dir->cur_ents, name, n)))
        err = ENOMEM; /* a node left unnamed is swept at power loss or free */
    free(name);
    if (err) return err;
    if ((flags & HD_VFS_TRUNC) && (flags & HD_VFS_RDWR)) {
        n->cur.n = 0;
        n->dirty_from = 0;
    }
    *out = n;
    return 0;
}

static int sim_open(const hd_vfs *vfs, const char *path, unsigned flags, hd_vfs_file **out)
{
    *out = NULL;
    int rc = hd_vfs_check_flags(flags, path);
    if (rc) return rc;
    hd_vfs_sim *sim = sim_of(vfs);
    sim_file *f = hd_calloc(1, sizeof *f);
    char *copy = f ? hd_strdup(path) : NULL;
    if (!copy) {
        free(f);
        return HERD_ENOMEM;
    }
    pthread_mutex_lock(&sim->mu);
    sim_node *n = NULL;
    int err = sim_open_locked(sim, path, flags, &n);
    if (!err) {
        f->base.vfs = vfs;
        f->base.path = copy;
        f->sim = sim;
        f->node = n;
        f->flags = flags;
        f->next = sim->files;
        if (sim->files) sim->files->prev = f;
        sim->files = f;
    }
    pthread_mutex_unlock(&sim->mu);
    if (err) {
        free(copy);
        free(f);
        return hd_vfs_fail(err, "open", path);
    }
    *out = &f->base;
    return HERD_OK;
}

static void sim_drop_locks(sim_file *f)
{
    if (f->nlocks) pthread_cond_broadcast(&f->sim->unlocked);
    free(f->locks);
    f->locks = NULL;
    f->nlocks = f->caplocks = 0;
}

static int sim_close(hd_vfs_file *base)
{
    sim_file *f = sf(base);
    hd_vfs_sim *sim = f->sim;
    pthread_mutex_lock(&sim->mu);
    /* A stale file is closed without counting: the "machine" that opened
     * it is gone, and the test only releases memory. */
    int err = f->node ? sim_enter(sim, HD_VFS_OP_CLOSE) : 0;
    sim_drop_locks(f);
    if (f->prev) f->prev->next = f->next;
    else sim->files = f->next;
    if (f->next) f->next->prev = f->prev;
    pthread_mutex_unlock(&sim->mu);
    int rc = err ? hd_vfs_fail(err, "close", base->path) : HERD_OK;
    free((char *)base->path);
    free(f);
    return rc;
}

/* Start a file operation: count it, check the handle.  0 or an errno. */
static int sim_file_enter(sim_file *f, unsigned op, int needs_write)
{
    if (!f->node) return EIO; /* stale after a power loss */
    int err = sim_enter(f->sim, op);
    if (!err && needs_write && !(f->flags & HD_VFS_RDWR)) err = EBADF;
    return err;
}

static int sim_read_at(sim_file *f, void *buf, size_t len, uint64_t off, size_t *got)
{
    const sim_buf *b = &f->node->cur;
    *got = off >= b->n ? 0 : (b->n - off < len ? (size_t)(b->n - off) : len);
    if (*got) memcpy(buf, b->p + off, *got);
    return 0;
}

/* Bytes held by the files reachable from `d`'s current entries. */
static uint64_t sim_used(const sim_node *d)
{
    uint64_t used = 0;
    for (size_t i = 0; i < d->cur_ents.n; i++) {
        const sim_node *n = d->cur_ents.v[i].node;
        used += n->is_dir ? sim_used(n) : n->cur.n;
    }
    return used;
}

static int sim_write_at(sim_file *f, const void *buf, size_t len, uint64_t off)
{
    sim_node *n = f->node;
    if (off > SIZE_MAX - len) return EFBIG;
    size_t end = (size_t)off + len;
    hd_vfs_sim *sim = f->sim;
    if (sim->capacity && end > n->cur.n && sim_used(sim->root) + (end - n->cur.n) > sim->capacity) {
        sim->enospc++;
        return ENOSPC; /* a full disk: nothing written */
    }
    if (end > n->cur.n && buf_resize(&n->cur, end)) return ENOMEM;
    if (len) memcpy(n->cur.p + off, buf, len);
    if ((size_t)off < n->dirty_from) n->dirty_from = (size_t)off;
    return 0;
}

static int sim_pread(hd_vfs_file *base, void *buf, size_t len, uint64_t off, size_t *got)
{
    sim_file *f = sf(base);
    *got = 0;
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_READ, 0);
    if (!err) err = sim_read_at(f, buf, len, off, got);
    pthread_mutex_unlock(&f->sim->mu);
    return err ? hd_vfs_fail(err, "read", base->path) : HERD_OK;
}

static int sim_pwrite(hd_vfs_file *base, const void *buf, size_t len, uint64_t off)
{
    sim_file *f = sf(base);
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_WRITE, 1);
    if (!err) err = sim_write_at(f, buf, len, off);
    pthread_mutex_unlock(&f->sim->mu);
    return err ? hd_vfs_fail(err, "write", base->path) : HERD_OK;
}

static int sim_read(hd_vfs_file *base, void *buf, size_t len, size_t *got)
{
    sim_file *f = sf(base);
    *got = 0;
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_READ, 0);
    if (!err) err = sim_read_at(f, buf, len, f->pos, got);
    if (!err) f->pos += *got;
    pthread_mutex_unlock(&f->sim->mu);
    return err ? hd_vfs_fail(err, "read", base->path) : HERD_OK;
}

static int sim_write(hd_vfs_file *base, const void *buf, size_t len)
{
    sim_file *f = sf(base);
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_WRITE, 1);
    if (!err && (f->flags & HD_VFS_APPEND)) f->pos = f->node->cur.n;
    if (!err) err = sim_write_at(f, buf, len, f->pos);
    if (!err) f->pos += len;
    pthread_mutex_unlock(&f->sim->mu);
    return err ? hd_vfs_fail(err, "write", base->path) : HERD_OK;
}

/* fsync and fdatasync: the sim has no metadata apart from the size, which
 * fdatasync persists too, so both make the current content durable. */
static int sim_sync(hd_vfs_file *base, const char *op)
{
    sim_file *f = sf(base);
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_FSYNC, 0);
    sim_node *n = f->node;
    if (err && n) {
        n->poisoned = 1; /* the dirty pages are gone as far as the disk knows */
    } else if (!err && !n->poisoned) {
        err = buf_assign(&n->dur, n->cur.p, n->cur.n);
        if (!err) n->dirty_from = SIZE_MAX;
    }
    pthread_mutex_unlock(&f->sim->mu);
    return err ? hd_vfs_fail(err, op, base->path) : HERD_OK;
}

static int sim_fsync(hd_vfs_file *f) { return sim_sync(f, "fsync"); }
static int sim_fdatasync(hd_vfs_file *f) { return sim_sync(f, "fdatasync"); }

static int sim_truncate(hd_vfs_file *base, uint64_t size)
{
    sim_file *f = sf(base);
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_TRUNCATE, 1);
    if (!err && size > SIZE_MAX) err = EFBIG;
    if (!err) {
        sim_node *n = f->node;
        if ((size_t)size < n->cur.n && (size_t)size < n->dirty_from)
            n->dirty_from = (size_t)size;
        err = buf_resize(&n->cur, (size_t)size);
        /* Rolled back to what is on disk: later fsyncs persist again. */
        if (!err && size <= n->dur.n) n->poisoned = 0;
    }
    pthread_mutex_unlock(&f->sim->mu);
    return err ? hd_vfs_fail(err, "truncate", base->path) : HERD_OK;
}

static int sim_size(hd_vfs_file *base, uint64_t *size)
{
    sim_file *f = sf(base);
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_SIZE, 0);
    if (!err) *size = f->node->cur.n;
    pthread_mutex_unlock(&f->sim->mu);
    return err ? hd_vfs_fail(err, "stat", base->path) : HERD_OK;
}

/* -- OFD locks -- */

static int lock_overlap(const sim_range *l, uint64_t start, uint64_t end)
{
    return l->start < end && start < l->end;
}

/* Whether another open file of the same node holds a conflicting lock. */
static int sim_lock_conflict(sim_file *f, int kind, uint64_t start, uint64_t end)
{
    for (sim_file *o = f->sim->files; o; o = o->next) {
        if (o == f || o->node != f->node) continue;
        for (size_t i = 0; i < o->nlocks; i++)
            if (lock_overlap(&o->locks[i], start, end) &&
                (kind == HD_VFS_LOCK_EXCLUSIVE || o->locks[i].kind == HD_VFS_LOCK_EXCLUSIVE))
                return 1;
    }
    return 0;
}

static int lock_push(sim_range **v, size_t *n, size_t *cap, sim_range l)
{
    if (hd_grow((void **)v, cap, *n + 1, sizeof **v)) return ENOMEM;
    (*v)[(*n)++] = l;
    return 0;
}

/* Replace f's locks on [start, end) by `kind` (HD_VFS_UNLOCK: none),
 * splitting the ranges that stick out, as fcntl does within one owner. */
static int sim_lock_set(sim_file *f, int kind, uint64_t start, uint64_t end)
{
    sim_range *v = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    for (size_t i = 0; i < f->nlocks && !err; i++) {
        sim_range l = f->locks[i];
        if (!lock_overlap(&l, start, end)) {
            err = lock_push(&v, &n, &cap, l);
            continue;
        }
        if (l.start < start)
            err = lock_push(&v, &n, &cap, (sim_range){l.start, start, l.kind});
        if (!err && l.end > end) err = lock_push(&v, &n, &cap, (sim_range){end, l.end, l.kind});
    }
    if (!err && kind != HD_VFS_UNLOCK) err = lock_push(&v, &n, &cap, (sim_range){start, end, kind});
    if (err) {
        free(v);
        return err;
    }
    free(f->locks);
    f->locks = v;
    f->nlocks = n;
    f->caplocks = cap;
    pthread_cond_broadcast(&f->sim->unlocked); /* a range may have been freed */
    return 0;
}

static int sim_lock(hd_vfs_file *base, int kind, uint64_t off, uint64_t len, int wait)
{
    sim_file *f = sf(base);
    hd_vfs_sim *sim = f->sim;
    if (kind != HD_VFS_UNLOCK && kind != HD_VFS_LOCK_SHARED && kind != HD_VFS_LOCK_EXCLUSIVE)
        return hd_error(HERD_EINVAL, "%s: lock: invalid kind %d", base->path, kind);
    uint64_t end = len == 0 || len > UINT64_MAX - off ? UINT64_MAX : off + len;
    pthread_mutex_lock(&sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_LOCK, 0);
    if (!err && kind == HD_VFS_LOCK_EXCLUSIVE && !(f->flags & HD_VFS_RDWR))
        err = EBADF; /* as fcntl: a write lock needs a file open for writing */
    while (!err && kind != HD_VFS_UNLOCK && sim_lock_conflict(f, kind, off, end)) {
        if (!wait) {
            err = EAGAIN;
            break;
        }
        pthread_cond_wait(&sim->unlocked, &sim->mu);
        if (!f->node) err = EIO; /* power lost while waiting */
    }
    if (!err) err = sim_lock_set(f, kind, off, end);
    pthread_mutex_unlock(&sim->mu);
    return err ? hd_vfs_lock_fail(err, base->path) : HERD_OK;
}

/* -- directory operations -- */

static int sim_rename_locked(hd_vfs_sim *sim, const char *from, const char *to)
{
    int err = sim_enter(sim, HD_VFS_OP_RENAME);
    if (err) return err;
    size_t flen = strlen(from);
    if (!strncmp(to, from, flen) && to[flen] == '/') return EINVAL; /* into itself */
    sim_node *fdir = NULL, *tdir = NULL;
    char *fname = NULL, *tname = NULL;
    err = sim_resolve(sim, from, &fdir, &fname);
    if (!err) err = sim_resolve(sim, to, &tdir, &tname);
    if (!err && (!fname || !tname)) err = EBUSY; /* the root */
    sim_ent *fe = err ? NULL : tab_find(&fdir->cur_ents, fname);
    if (!err && !fe) err = ENOENT;
    sim_ent *te = err ? NULL : tab_find(&tdir->cur_ents, tname);
    if (!err && te && te->node != fe->node) {
        if (te->node->is_dir && !fe->node->is_dir) err = EISDIR;
        else if (!te->node->is_dir && fe->node->is_dir) err = ENOTDIR;
        else if (te->node->is_dir && te->node->cur_ents.n) err = ENOTEMPTY;
    }
    if (!err && te != fe) {
        sim_node *n = fe->node;
        if (te) {
            te->node = n; /* replaced atomically: the old file loses its name */
            tab_remove(&fdir->cur_ents, fe);
        } else if (!(err = tab_add(&tdir->cur_ents, tname, n))) {
            /* tab_add may have moved fdir's table if fdir == tdir: find again */
            tab_remove(&fdir->cur_ents, tab_find(&fdir->cur_ents, fname));
        }
    }
    free(fname);
    free(tname);
    return err;
}

static int sim_rename(const hd_vfs *vfs, const char *from, const char *to)
{
    hd_vfs_sim *sim = sim_of(vfs);
    pthread_mutex_lock(&sim->mu);
    int err = sim_rename_locked(sim, from, to);
    pthread_mutex_unlock(&sim->mu);
    if (!err) return HERD_OK;
    return hd_error(err == ENOENT ? HERD_ENOTFOUND : HERD_EIO,
                    "%s: rename to '%s' failed: %s%s", from, to, strerror(err),
                    err == ENOSPC ? " (no space left)" : "");
}

static int sim_unlink(const hd_vfs *vfs, const char *path)
{
    hd_vfs_sim *sim = sim_of(vfs);
    pthread_mutex_lock(&sim->mu);
    int err = sim_enter(sim, HD_VFS_OP_UNLINK);
    sim_node *dir = NULL;
    char *name = NULL;
    if (!err) err = sim_resolve(sim, path, &dir, &name);
    if (!err && !name) err = EISDIR;
    sim_ent *e = err ? NULL : tab_find(&dir->cur_ents, name);
    if (!err && !e) err = ENOENT;
    if (!err && e->node->is_dir) err = EISDIR;
    if (!err) tab_remove(&dir->cur_ents, e);
    pthread_mutex_unlock(&sim->mu);
    free(name);
    return err ? hd_vfs_fail(err, "unlink", path) : HERD_OK;
}

static int sim_mkdir(const hd_vfs *vfs, const char *path)
{
    hd_vfs_sim *sim = sim_of(vfs);
    pthread_mutex_lock(&sim->mu);
    int err = sim_enter(sim, HD_VFS_OP_MKDIR);
    sim_node *dir = NULL, *n = NULL;
    char *name = NULL;
    if (!err) err = sim_resolve(sim, path, &dir, &name);
    if (!err && (!name || tab_find(&dir->cur_ents, name))) err = EEXIST;
    if (!err && (!(n = node_new(sim, 1)) || tab_add(&dir->cur_ents, name, n))) err = ENOMEM;
    pthread_mutex_unlock(&sim->mu);
    free(name);
    return err ? hd_vfs_fail(err, "mkdir", path) : HERD_OK;
}

static int sim_sync_dir(const hd_vfs *vfs, const char *path)
{
    hd_vfs_sim *sim = sim_of(vfs);
    pthread_mutex_lock(&sim->mu);
    int err = sim_enter(sim, HD_VFS_OP_SYNC_DIR);
    sim_node *n = NULL;
    if (!err) err = sim_lookup(sim, path, &n);
    if (!err && !n->is_dir) err = ENOTDIR;
    if (!err) err = tab_copy(&n->dur_ents, &n->cur_ents);
    pthread_mutex_unlock(&sim->mu);
    return err ? hd_vfs_fail(err, "fsync directory", path) : HERD_OK;
}

static int sim_list_dir(const hd_vfs *vfs, const char *path, hd_vfs_list_fn fn, void *ctx)
{
    hd_vfs_sim *sim = sim_of(vfs);
    sim_tab names = {0};
    pthread_mutex_lock(&sim->mu);
    int err = sim_enter(sim, HD_VFS_OP_LIST);
    sim_node *n = NULL;
    if (!err) err = sim_lookup(sim, path, &n);
    if (!err && !n->is_dir) err = ENOTDIR;
    /* A copy, so that the callback runs unlocked and may use the sim. */
    if (!err) err = tab_copy(&names, &n->cur_ents);
    pthread_mutex_unlock(&sim->mu);
    int rc = err ? hd_vfs_fail(err, "list directory", path) : HERD_OK;
    for (size_t i = 0; !rc && i < names.n; i++) rc = fn(ctx, names.v[i].name);
    tab_free(&names);
    return rc;
}

/* -- the sim itself -- */

/* The sim "maps" by copying: the copy keeps the bytes of the moment, as a
 * mapping of a file that is only ever replaced by rename does. */
static int sim_map(hd_vfs_file *base, uint64_t len, const void **out)
{
    sim_file *f = sf(base);
    *out = NULL;
    pthread_mutex_lock(&f->sim->mu);
    int err = sim_file_enter(f, HD_VFS_OP_MAP, 0);
    unsigned char *copy = NULL;
    if (!err && (!len || len > f->node->cur.n)) err = EINVAL;
    if (!err && !(copy = malloc((size_t)len))) err = ENOMEM;
    if (!err) memcpy(copy, f->node->cur.p, (size_t)len);
    pthread_mutex_unlock(&f->sim->mu);
    if (err) return hd_vfs_fail(err, "mmap", base->path);
    *out = copy;
    return HERD_OK;
}

/* Durability is all the sim models, and a hint changes none of it. */
static void sim_writeback(hd_vfs_file *f, uint64_t off, uint64_t len)
{
    (void)f;
    (void)off;
    (void)len;
}

static void sim_unmap(const hd_vfs *vfs, const void *p, uint64_t len)
{
    (void)vfs;
    (void)len;
    free((void *)p);
}

hd_vfs_sim *hd_vfs_sim_new(uint64_t seed, unsigned options)
{
    hd_vfs_sim *sim = hd_calloc(1, sizeof *sim);
    if (!sim) return NULL;
    sim->vfs = (hd_vfs){
        .user = sim,
        .open = sim_open,
        .close = sim_close,
        .pread = sim_pread,
        .pwrite = sim_pwrite,
        .read = sim_read,
        .write = sim_write,
        .fsync = sim_fsync,
        .fdatasync = sim_fdatasync,
        .truncate = sim_truncate,
        .size = sim_size,
        .lock = sim_lock,
        .rename = sim_rename,
        .unlink = sim_unlink,
        .mkdir = sim_mkdir,
        .sync_dir = sim_sync_dir,
        .list_dir = sim_list_dir,
        .map = sim_map,
        .unmap = sim_unmap,
        .writeback = sim_writeback,
    };
    sim->rng = seed;
    sim->options = options;
    pthread_mutex_init(&sim->mu, NULL);
    pthread_cond_init(&sim->unlocked, NULL);
    if (!(sim->root = node_new(sim, 1))) {
        hd_vfs_sim_free(sim);
        return NULL;
    }
    return sim;
}

void hd_vfs_sim_free(hd_vfs_sim *sim)
{
    if (!sim) return;
    while (sim->files) {
        sim_file *f = sim->files;
        sim->files = f->next;
        free(f->locks);
        free((char *)f->base.path);
        free(f);
    }
    while (sim->nodes) {
        sim_node *n = sim->nodes;
        sim->nodes = n->next;
        node_free(n);
    }
    pthread_cond_destroy(&sim->unlocked);
    pthread_mutex_destroy(&sim->mu);
    free(sim);
}

const hd_vfs *hd_vfs_sim_vfs(hd_vfs_sim *sim) { return &sim->vfs; }

/* What of a file's content survives: the durable bytes, plus (with
 * HD_VFS_SIM_TORN_APPENDS) a random prefix of bytes appended after them
 * when nothing below the durable length changed. */
static void sim_file_crash(hd_vfs_sim *sim, sim_node *n)
{
    size_t keep = 0;
    if ((sim->options & HD_VFS_SIM_TORN_APPENDS) && !n->poisoned && n->dirty_from >= n->dur.n &&
        n->cur.n > n->dur.n)
        keep = (size_t)(sim_rand(sim) % (uint64_t)(n->cur.n - n->dur.n + 1));
    if (keep) {
        /* cur already holds dur followed by the appended bytes */
        n->cur.n = n->dur.n + keep;
        (void)buf_assign(&n->dur, n->cur.p, n->cur.n); /* on ENOMEM: keep nothing extra */
    }
    /* On ENOMEM (tests only) the file reads as empty: wrong, but loudly so. */
    if (buf_assign(&n->cur, n->dur.p, n->dur.n)) n->cur.n = 0;
    n->dirty_from = SIZE_MAX;
    n->poisoned = 0;
}

static void sim_mark(sim_node *n)
{
    if (n->mark) return;
    n->mark = 1;
    for (size_t i = 0; i < n->cur_ents.n; i++) sim_mark(n->cur_ents.v[i].node);
}

/* Free the nodes no entry reaches from the root any more. */
static void sim_sweep(hd_vfs_sim *sim)
{
    for (sim_node *n = sim->nodes; n; n = n->next) n->mark = 0;
    sim_mark(sim->root);
    for (sim_node **p = &sim->nodes; *p;) {
        sim_node *n = *p;
        if (n->mark) {
            p = &n->next;
        } else {
            *p = n->next;
            node_free(n);
        }
    }
}

static void sim_power_loss_locked(hd_vfs_sim *sim)
{
    for (sim_file *f = sim->files; f; f = f->next) {
        sim_drop_locks(f);
        f->node = NULL;
    }
    for (sim_node *n = sim->nodes; n; n = n->next) {
        if (n->is_dir) {
            /* On ENOMEM the current table stays: the test sees more than
             * it should, never a crash. */
            (void)tab_copy(&n->cur_ents, &n->dur_ents);
        } else {
            sim_file_crash(sim, n);
        }
    }
    sim_sweep(sim);
    pthread_cond_broadcast(&sim->unlocked);
}

void hd_vfs_sim_power_loss(hd_vfs_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    sim_power_loss_locked(sim);
    pthread_mutex_unlock(&sim->mu);
}

void hd_vfs_sim_crash_at(hd_vfs_sim *sim, uint64_t n, unsigned op_mask)
{
    pthread_mutex_lock(&sim->mu);
    sim->crash_n = n;
    sim->crash_seen = 0;
    sim->crash_mask = op_mask;
    pthread_mutex_unlock(&sim->mu);
}

void hd_vfs_sim_restart(hd_vfs_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    sim->down = 0;
    pthread_mutex_unlock(&sim->mu);
}

int hd_vfs_sim_is_down(hd_vfs_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    int down = sim->down;
    pthread_mutex_unlock(&sim->mu);
    return down;
}

void hd_vfs_sim_set_capacity(hd_vfs_sim *sim, uint64_t bytes)
{
    pthread_mutex_lock(&sim->mu);
    sim->capacity = bytes;
    pthread_mutex_unlock(&sim->mu);
}

uint64_t hd_vfs_sim_used(hd_vfs_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    uint64_t used = sim_used(sim->root);
    pthread_mutex_unlock(&sim->mu);
    return used;
}

uint64_t hd_vfs_sim_enospc(hd_vfs_sim *sim)
{
    pthread_mutex_lock(&sim->mu);
    uint64_t n = sim->enospc;
    pthread_mutex_unlock(&sim->mu);
    return n;
}

void hd_vfs_sim_fail_at(hd_vfs_sim *sim, uint64_t n, unsigned op_mask, int err)
{
    pthread_mutex_lock(&sim->mu);
    sim->fail_n = n;
    sim->fail_seen = 0;
    sim->fail_mask = op_mask;
    sim->fail_err = err;
    pthread_mutex_unlock(&sim->mu);
}

uint64_t hd_vfs_sim_calls(hd_vfs_sim *sim, unsigned op_mask)
{
    uint64_t total = 0;
    pthread_mutex_lock(&sim->mu);
    for (unsigned i = 0; i < SIM_NOPS; i++)
        if (op_mask & (1u << i)) total += sim->calls[i];
    pthread_mutex_unlock(&sim->mu);
    return total;
}
