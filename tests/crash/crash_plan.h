/* crash_plan.h -- small fixed workloads of batches for the simulated
 * filesystem tests (power cuts, injected faults) and the file-level tests
 * (journal tails, corruption): each batch lists its versions (family,
 * group, model, alias to move there, idempotency key), explicit alias
 * moves and archives.  Because commits are serial, the registry after the
 * first m batches is a pure function of m; cr_expect_* compute it and
 * cr_verify_prefix checks a registry against it exactly: the versions
 * (numbers, tags, status), the aliases, and every artifact's model.
 * Include after crash_common.h. */
#ifndef HERD_TEST_CRASH_PLAN_H
#define HERD_TEST_CRASH_PLAN_H

#define CP_MAX_ITEMS 8
#define CP_MAX_MOVES 2

typedef struct cp_item {
    const char *family, *group;
    int mi;            /* model index (cr_models) */
    const char *alias; /* move this alias here at commit; NULL: none */
    const char *idem;  /* idempotency key; NULL: none */
    int blob;          /* index of the blob to add; 0: `mi` (blob i holds
                          model i, or model i % CR_NMODELS beyond) */
} cp_item;

typedef struct cp_move {
    const char *family, *group, *alias;
    int64_t version; /* 0: delete */
} cp_move;

typedef struct cp_batch {
    long id; /* the "batch" tag */
    int n;
    cp_item item[CP_MAX_ITEMS];
    int nmoves;
    cp_move move[CP_MAX_MOVES];
    const char *archive_family, *archive_group; /* archive ... */
    int64_t archive_version;                    /* ... this version (0: none) */
    const char *run_id;                         /* herd_batch_set_run; NULL: none */
} cp_batch;

/* The version the j-th item of batch `bi` gets when batches 0..bi-1 are
 * committed before it (versions are assigned in the order added). */
static inline int64_t cp_version_of(const cp_batch *plan, int bi, int j)
{
    const cp_item *it = &plan[bi].item[j];
    int64_t v = 0;
    for (int b = 0; b <= bi; b++)
        for (int i = 0; i < (b == bi ? j + 1 : plan[b].n); i++)
            if (!strcmp(plan[b].item[i].family, it->family) &&
                !strcmp(plan[b].item[i].group, it->group))
                v++;
    return v;
}

/* Stage batch `bi` on `b` with the blobs (one per model). */
static inline int cp_stage(herd_batch *b, const cp_batch *plan, int bi, void *const *blob,
                           const size_t *blob_len)
{
    const cp_batch *p = &plan[bi];
    int rc = HERD_OK;
    for (int m = 0; !rc && m < p->nmoves; m++) {
        herd_alias_options ao;
        herd_alias_options_init(&ao, HERD_ALIAS_OPTIONS_VERSION);
        ao.reason = "crash test move";
        rc = herd_batch_set_alias(b, p->move[m].family, p->move[m].group, p->move[m].alias,
                                  p->move[m].version, &ao);
    }
    if (!rc && p->archive_version)
        rc = herd_batch_archive(b, p->archive_family, p->archive_group, p->archive_version,
                                "crash test archive");
    for (int i = 0; !rc && i < p->n; i++) {
        const cp_item *it = &p->item[i];
        int k = it->blob ? it->blob : it->mi;
        rc = cr_add(b, blob[k], blob_len[k], it->family, it->group, -1, p->id, i,
                    it->idem, it->alias, NULL);
    }
    if (!rc && p->run_id) rc = herd_batch_set_run(b, p->run_id, "{\"eta\":0.1}", NULL);
    return rc;
}

/* Begin, stage, commit batch `bi`.  *versions (may be NULL) receives the
 * assigned numbers, *existed (may be NULL) the existed flags. */
static inline int cp_commit(herd_registry *reg, const cp_batch *plan, int bi, void *const *blob,
                            const size_t *blob_len, int64_t *versions, int *existed)
{
    herd_batch *b = NULL;
    int rc = herd_registry_begin(reg, &b);
    if (!rc) rc = cp_stage(b, plan, bi, blob, blob_len);
    if (!rc) rc = herd_batch_commit(b);
    for (int i = 0; !rc && i < plan[bi].n; i++) {
        int64_t v = 0;
        int e = 0;
        rc = herd_batch_version(b, (size_t)i, &v, &e);
        if (versions) versions[i] = v;
        if (existed) existed[i] = e;
    }
    /* keep the commit's error message across the free */
    herd_batch_free(b);
    return rc;
}

/* Which of the plan's batches are in the snapshot: 1 each (complete), 0
 * (absent); -1 with err when one is partly there or has a wrong shape
 * (version numbers and families are checked by cp_verify_prefix). */
static inline int cp_presence(const cr_snap *s, const cp_batch *plan, int nb, int *present,
                              char *err, size_t cap)
{
    for (int b = 0; b < nb; b++) {
        const cr_row *rows[64];
        size_t n = cr_snap_batch(s, -1, plan[b].id, rows, 64);
        if (n != 0 && n != (size_t)plan[b].n) {
            snprintf(err, cap, "batch %ld is partly visible: %zu of its %d versions", plan[b].id,
                     n, plan[b].n);
            return -1;
        }
        present[b] = n != 0;
    }
    return 0;
}

/* Check the registry holds exactly the batches of `want` (want[b] = 1:
 * present; the batches present must be committed in plan order, so version
 * numbers follow from cp_version_of over the present ones), with their
 * aliases (the last move of each, in plan order), archive status and
 * artifacts.  `archived_may_be_gone`: an archived version's artifact may
 * have been reclaimed (HERD_ENOTFOUND).  0, or -1 with err. */
static inline int cp_verify(herd_registry *reg, const cp_batch *plan, int nb, const int *want,
                            const cr_models *m, int archived_may_be_gone, char *err, size_t cap)
{
    cr_snap s;
    if (cr_snap_take(reg, &s, err, cap)) return -1;
    int rc = -1;
    if (cr_check_gapless(&s, err, cap)) goto out;
    /* the present batches form a plan of their own: recompute numbers */
    cp_batch sub[16];
    int ns = 0, idx[16];
    for (int b = 0; b < nb && ns < 16; b++)
        if (want[b]) {
            idx[ns] = b;
            sub[ns++] = plan[b];
        }
    size_t expected_rows = 0;
    for (int k = 0; k < ns; k++) {
        expected_rows += (size_t)sub[k].n;
        for (int i = 0; i < sub[k].n; i++) {
            const cp_item *it = &sub[k].item[i];
            const cr_row *w = cr_snap_item(&s, -1, sub[k].id, i);
            int64_t v = cp_version_of(sub, k, i);
            if (!w) {
                snprintf(err, cap, "batch %ld item %d (%s/%s v%" PRId64 ") is missing",
                         sub[k].id, i, it->family, it->group, v);
                goto out;
            }
            if (strcmp(w->family, it->family) || strcmp(w->group, it->group) || w->version != v) {
                snprintf(err, cap, "batch %ld item %d is %s/%s v%" PRId64 ", want %s/%s v%" PRId64,
                         sub[k].id, i, w->family, w->group, w->version, it->family, it->group, v);
                goto out;
            }
            if (strcmp(w->idem, it->idem ? it->idem : "")) {
                snprintf(err, cap, "batch %ld item %d: idempotency key '%s', want '%s'",
                         sub[k].id, i, w->idem, it->idem ? it->idem : "");
                goto out;
            }
        }
    }
    if (s.n != expected_rows) {
        snprintf(err, cap, "%zu versions in the registry, %zu expected (batches %s)", s.n,
                 expected_rows, "present per plan");
        goto out;
    }
    /* archive status: a version is archived iff a present batch archived it */
    for (size_t r = 0; r < s.n; r++) {
        const cr_row *w = &s.rows[r];
        int arch = 0;
        for (int k = 0; k < ns; k++)
            if (sub[k].archive_version && !strcmp(sub[k].archive_family, w->family) &&
                !strcmp(sub[k].archive_group, w->group) && sub[k].archive_version == w->version)
                arch = 1;
        if (arch != w->archived) {
            snprintf(err, cap, "%s/%s v%" PRId64 " is %s, want %s", w->family, w->group,
                     w->version, w->archived ? "archived" : "active", arch ? "archived" : "active");
            goto out;
        }
        /* its artifact: the planned model, byte for byte */
        const cp_item *it = NULL;
        for (int k = 0; k < ns && !it; k++)
            if (sub[k].id == w->batch && w->item >= 0 && w->item < sub[k].n)
                it = &sub[k].item[w->item];
        if (!it) {
            snprintf(err, cap, "%s/%s v%" PRId64 " has tags batch=%ld item=%ld of no present batch",
                     w->family, w->group, w->version, w->batch, w->item);
            goto out;
        }
        herd_artifact *a = NULL;
        int lrc = herd_registry_load(reg, w->family, w->group, w->version, &a);
        if (lrc == HERD_ENOTFOUND && arch && archived_may_be_gone) {
            /* reclaimed by gc */
        } else if (lrc != HERD_OK) {
            snprintf(err, cap, "loading %s/%s v%" PRId64 ": %s (%s)", w->family, w->group,
                     w->version, herd_status_str(lrc), herd_last_error());
            goto out;
        } else if (!cr_artifact_is_model(m, a, it->mi)) {
            herd_artifact_free(a);
            snprintf(err, cap, "%s/%s v%" PRId64 " loads an artifact that is not model %d (%s)",
                     w->family, w->group, w->version, it->mi, cr_model_files[it->mi]);
            goto out;
        }
        herd_artifact_free(a);
    }
    /* aliases: replay the moves of the present batches in order */
    for (int k = 0; k < ns; k++) {
        /* each (family, group, alias) touched by batch k: check its final
         * target over all present batches */
        for (int q = 0; q < sub[k].n + sub[k].nmoves; q++) {
            const char *fam, *grp, *alias;
            if (q < sub[k].nmoves) {
                fam = sub[k].move[q].family;
                grp = sub[k].move[q].group;
                alias = sub[k].move[q].alias;
            } else {
                const cp_item *it = &sub[k].item[q - sub[k].nmoves];
                if (!it->alias) continue;
                fam = it->family;
                grp = it->group;
                alias = it->alias;
            }
            int64_t want_v = 0;
            for (int k2 = 0; k2 < ns; k2++) {
                for (int q2 = 0; q2 < sub[k2].nmoves; q2++)
                    if (!strcmp(sub[k2].move[q2].family, fam) &&
                        !strcmp(sub[k2].move[q2].group, grp) &&
                        !strcmp(sub[k2].move[q2].alias, alias))
                        want_v = sub[k2].move[q2].version;
                for (int i2 = 0; i2 < sub[k2].n; i2++)
                    if (sub[k2].item[i2].alias && !strcmp(sub[k2].item[i2].family, fam) &&
                        !strcmp(sub[k2].item[i2].group, grp) &&
                        !strcmp(sub[k2].item[i2].alias, alias))
                        want_v = cp_version_of(sub, k2, i2);
            }
            int64_t v = -1;
            int arc = herd_registry_resolve(reg, fam, grp, alias, &v);
            if (want_v == 0 ? arc != HERD_ENOTFOUND : (arc != HERD_OK || v != want_v)) {
                snprintf(err, cap, "%s/%s@%s: %s v%" PRId64 ", want %s%" PRId64 " (%s)", fam, grp,
                         alias, herd_status_str(arc), v, want_v ? "v" : "none ", want_v,
                         arc ? herd_last_error() : "");
                goto out;
            }
        }
    }
    /* runs: the present batches' run ids */
    {
        herd_frame *runs = NULL;
        int rrc = herd_registry_runs(reg, &runs);
        if (rrc) {
            snprintf(err, cap, "herd_registry_runs: %s (%s)", herd_status_str(rrc),
                     herd_last_error());
            goto out;
        }
        size_t want_runs = 0;
        for (int k = 0; k < ns; k++) want_runs += sub[k].run_id != NULL;
        size_t got_runs = herd_frame_row_count(runs);
        herd_frame_free(runs);
        if (got_runs != want_runs) {
            snprintf(err, cap, "%zu runs recorded, want %zu", got_runs, want_runs);
            goto out;
        }
    }
    (void)idx;
    rc = 0;
out:
    cr_snap_free(&s);
    return rc;
}

/* After a power cut at call k of a workload committing plan[0..nb) in
 * order, where ok[b] says which commits returned HERD_OK and versions[b]
 * what they returned: the successful commits form a prefix; the batches
 * present form a prefix holding them (and at most one more: a commit cut
 * after its record was synced), exactly as planned; every returned number
 * is the plan's.  labels[b] (labels may be NULL) names batch b in the
 * message of a lost commit.  Returns the number of batches present. */
static inline int cp_check_cut(herd_registry *reg, const cp_batch *plan, int nb, const int *ok,
                               int64_t (*versions)[CP_MAX_ITEMS], const cr_models *m,
                               uint64_t k, const char *const *labels)
{
    char err[1024];
    int nok = 0;
    while (nok < nb && ok[nok]) nok++;
    for (int b = nok; b < nb; b++)
        if (ok[b]) fail_msg("cut at call %" PRIu64 ": commit %d succeeded after commit %d "
                            "failed", k, b, nok);
    cr_snap s;
    if (cr_snap_take(reg, &s, err, sizeof err)) fail_msg("cut at call %" PRIu64 ": %s", k, err);
    int present[16];
    if (cp_presence(&s, plan, nb, present, err, sizeof err))
        fail_msg("cut at call %" PRIu64 ": %s", k, err);
    cr_snap_free(&s);
    int np = 0;
    while (np < nb && present[np]) np++;
    for (int b = np; b < nb; b++)
        if (present[b]) fail_msg("cut at call %" PRIu64 ": batch %d present without batch %d",
                                 k, b, np);
    if (np < nok)
        fail_msg("cut at call %" PRIu64 ": commit %d%s%s%s returned HERD_OK but is lost", k, np,
                 labels ? " (" : "", labels ? labels[np] : "", labels ? ")" : "");
    if (np > nok + 1)
        fail_msg("cut at call %" PRIu64 ": batch %d present but never committed", k, np - 1);
    int want[16] = {0};
    for (int b = 0; b < np; b++) want[b] = 1;
    if (cp_verify(reg, plan, nb, want, m, 1, err, sizeof err))
        fail_msg("cut at call %" PRIu64 " (%d batches present): %s", k, np, err);
    for (int b = 0; b < nok; b++)
        for (int i = 0; i < plan[b].n; i++)
            if (versions[b][i] != cp_version_of(plan, b, i))
                fail_msg("cut at call %" PRIu64 ": commit %d item %d returned v%" PRId64, k, b,
                         i, versions[b][i]);
    return np;
}

/* The registry recovered after a cut, holding plan[0..np), takes plan[nb]
 * as a new commit; `after` (room for np + 1) receives the batches it then
 * holds, in order.  Returns their count. */
static inline int cp_recovery_commit(herd_registry *reg, const cp_batch *plan, int nb, int np,
                                     void *const *blob, const size_t *blob_len, uint64_t k,
                                     cp_batch *after)
{
    int64_t ver[CP_MAX_ITEMS];
    int rc = cp_commit(reg, plan, nb, blob, blob_len, ver, NULL);
    if (rc)
        fail_msg("cut at call %" PRIu64 ": commit after recovery: %s (%s)", k,
                 herd_status_str(rc), herd_last_error());
    int na = 0;
    for (int b = 0; b < np; b++) after[na++] = plan[b];
    after[na++] = plan[nb];
    for (int i = 0; i < plan[nb].n; i++)
        if (ver[i] != cp_version_of(after, na - 1, i))
            fail_msg("cut at call %" PRIu64 ": recovery commit item %d got v%" PRId64
                     ", want v%" PRId64, k, i, ver[i], cp_version_of(after, na - 1, i));
    return na;
}

#endif
