/* demo.c -- the job `make demo` runs.
 *
 * Two weeks in the life of a retailer with 400 products.  It generates
 * weekly sales (one row per product and week: price, promo, season, week,
 * demand), writes them as CSV and reads them back, partitions them by
 * product, and runs the weekly cycle (herd_cycle) on the embedded registry
 * (./herd-registry by default): each product's latest weeks are held out,
 * one XGBoost model per product is trained on the rest, every model is
 * registered as its product's challenger in one atomic batch, a family
 * model is trained on all products as a fallback, and each challenger is
 * compared with its champion on the held-out weeks.  Week 1 has no
 * champions yet; by week 2 a competitor has opened next to a quarter of
 * the products (demand and price sensitivity shift), their new models win
 * and are promoted, most others keep their champions.  Finally every row is
 * predicted from the registry.  Running it again changes nothing: each
 * week's run is registered once.
 *
 * usage: herd-demo [DIR [REGISTRY]]
 *        (defaults: ./herd-demo, created if missing; ./herd-registry)
 *        herd-demo --generate DIR
 *        writes the two weeks' data only, DIR/week1.csv and DIR/week2.csv,
 *        for `make demo`, which runs them through `herd job run`
 *        (examples/jobs/demand.json; docs/cli.md).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <herd.h>

#define PRODUCTS 400
#define MIN_WEEKS 80
#define MAX_WEEKS 156
#define NEW_WEEKS 26  /* between the two cycles */
#define NEW_PRODUCTS 3 /* launched between them */

static int fail(const char *what)
{
    fprintf(stderr, "herd-demo: %s: %s (%s)\n", what, herd_last_error(),
            herd_status_str(herd_last_error_code()));
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A small deterministic generator, seeded per product, so that a
 * product's first weeks are the same in both weeks' data. */
static double uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0;
}

typedef struct sales {
    size_t n, cap;
    char **product;
    int64_t *week;
    double *price, *promo, *season, *competitor, *demand;
} sales;

static int sales_push(sales *s, const char *product, int64_t week, double price, double promo,
                      double season, double competitor, double demand)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        char **p = realloc(s->product, cap * sizeof *p);
        if (p) s->product = p;
        int64_t *w = realloc(s->week, cap * sizeof *w);
        if (w) s->week = w;
        double *cols[5] = {s->price, s->promo, s->season, s->competitor, s->demand};
        int ok = p && w;
        for (int i = 0; i < 5; i++) {
            double *c = realloc(cols[i], cap * sizeof *c);
            if (c) cols[i] = c;
            else ok = 0;
        }
        s->price = cols[0], s->promo = cols[1], s->season = cols[2], s->competitor = cols[3];
        s->demand = cols[4];
        if (!ok) return -1;
        s->cap = cap;
    }
    s->product[s->n] = strdup(product);
    if (!s->product[s->n]) return -1;
    s->week[s->n] = week;
    s->price[s->n] = price;
    s->promo[s->n] = promo;
    s->season[s->n] = season;
    s->competitor[s->n] = competitor;
    s->demand[s->n] = demand;
    s->n++;
    return 0;
}

static void sales_free(sales *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->product[i]);
    free(s->product), free(s->week), free(s->price), free(s->promo), free(s->season);
    free(s->competitor), free(s->demand);
    memset(s, 0, sizeof *s);
}

static int drifts(int product) { return product % 4 == 0; }

/* Products have different histories (new products have fewer weeks), a base
 * level, a price elasticity and a yearly season.  `extra` more weeks per
 * product; in them, a competitor opens next to every fourth product, which
 * then sells 40% less and reacts more strongly to price. */
static int generate(sales *s, int extra)
{
    for (int p = 0; p < PRODUCTS; p++) {
        char name[32];
        snprintf(name, sizeof name, "sku_%04d", p);
        uint64_t st = 42 + 7919 * (uint64_t)p;
        int weeks = MIN_WEEKS + (int)(uniform(&st) * (MAX_WEEKS - MIN_WEEKS));
        double base = 20 + 80 * uniform(&st), elasticity = 0.5 + 1.5 * uniform(&st);
        for (int w = 0; w < weeks + extra; w++) {
            double price = 5 + 5 * uniform(&st);
            double promo = uniform(&st) < 0.15 ? 1 : 0;
            double season = sin(2 * M_PI * w / 52.0);
            double competitor = w >= weeks && drifts(p) ? 1 : 0;
            double level = competitor ? 0.6 * base : base;
            double e = competitor ? 1.5 * elasticity : elasticity;
            double demand = level * (1 + 0.3 * season) * pow(price / 7.5, -e) *
                            (1 + 0.5 * promo) * (0.9 + 0.2 * uniform(&st));
            if (sales_push(s, name, w, price, promo, season, competitor, demand)) return -1;
        }
    }
    /* Products launched since week 1: too short a history for a model of
     * their own, so the family model predicts them. */
    for (int p = 0; extra && p < NEW_PRODUCTS; p++) {
        char name[32];
        snprintf(name, sizeof name, "new_%02d", p);
        uint64_t st = 4242 + (uint64_t)p;
        for (int w = 0; w < 5; w++) {
            double price = 5 + 5 * uniform(&st), promo = 0, season = sin(2 * M_PI * w / 52.0);
            double demand = 50 * pow(price / 7.5, -1) * (0.9 + 0.2 * uniform(&st));
            if (sales_push(s, name, w, price, promo, season, 0, demand)) return -1;
        }
    }
    return 0;
}

static int build_frame(const sales *s, herd_frame **out)
{
    herd_frame *f = NULL;
    herd_column_options borrow;
    herd_column_options_init(&borrow, HERD_COLUMN_OPTIONS_VERSION);
    borrow.flags = HERD_COLUMN_BORROW; /* zero-copy: `s` outlives the frame */
    if (herd_frame_new(&f) ||
        herd_frame_add_column(f, "product", HERD_TYPE_STRING, s->product, s->n, &borrow) ||
        herd_frame_add_column(f, "week", HERD_TYPE_INT64, s->week, s->n, &borrow) ||
        herd_frame_add_column(f, "price", HERD_TYPE_FLOAT64, s->price, s->n, &borrow) ||
        herd_frame_add_column(f, "promo", HERD_TYPE_FLOAT64, s->promo, s->n, &borrow) ||
        herd_frame_add_column(f, "season", HERD_TYPE_FLOAT64, s->season, s->n, &borrow) ||
        herd_frame_add_column(f, "competitor", HERD_TYPE_FLOAT64, s->competitor, s->n,
                              &borrow) ||
        herd_frame_add_column(f, "demand", HERD_TYPE_FLOAT64, s->demand, s->n, &borrow)) {
        herd_frame_free(f);
        return -1;
    }
    *out = f;
    return 0;
}

static void print_groups(const herd_groups *g, const herd_frame *f, double read_s,
                         double group_s)
{
    size_t n = herd_groups_count(g), smallest = SIZE_MAX, largest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = herd_groups_row_count(g, i);
        if (k < smallest) smallest = k;
        if (k > largest) largest = k;
    }
    printf("rows            %zu\n", herd_frame_row_count(f));
    printf("groups          %zu (by product), %zu to %zu rows each\n", n, smallest, largest);
    printf("read CSV        %.3f s\n", read_s);
    printf("group rows      %.3f s\n", group_s);
}

static const char *cell_str(const herd_frame *f, const char *col, size_t row)
{
    size_t c;
    const char *s = NULL;
    if (herd_frame_find(f, col, &c) == HERD_OK) herd_frame_get_string(f, c, row, &s);
    return s ? s : "";
}

static double cell_num(const herd_frame *f, const char *col, size_t row)
{
    size_t c;
    double v = NAN;
    if (herd_frame_find(f, col, &c) == HERD_OK) herd_frame_get_double(f, c, row, &v);
    return v;
}

/* Counts per decision, and one example of each that happened. */
static void print_decisions(const herd_frame *d, const herd_frame *summary)
{
    printf("decisions      ");
    for (size_t i = 0; i < herd_frame_row_count(summary); i++)
        printf(" %s %.0f", cell_str(summary, "decision", i), cell_num(summary, "groups", i));
    printf("\n");
    static const char *shown[] = {"promote", "keep", "first", "skipped", "failed", "refused"};
    for (size_t k = 0; k < sizeof shown / sizeof *shown; k++) {
        for (size_t i = 0; i < herd_frame_row_count(d); i++) {
            if (strcmp(cell_str(d, "decision", i), shown[k]) != 0) continue;
            printf("  e.g. %-8s %s: %s\n", shown[k], cell_str(d, "group", i),
                   cell_str(d, "reason", i));
            break;
        }
    }
    size_t promoted = 0, competitor = 0;
    for (size_t i = 0; i < herd_frame_row_count(d); i++) {
        int p;
        /* "promoted": the champion really moved (a cap refusal moves none) */
        if (strcmp(cell_str(d, "decision", i), "promote") != 0 || cell_num(d, "promoted", i) != 1)
            continue;
        promoted++;
        if (sscanf(cell_str(d, "group", i), "sku_%d", &p) == 1 && drifts(p)) competitor++;
    }
    if (promoted)
        printf("  %zu of the %zu promoted products have a new competitor\n", competitor, promoted);
    for (size_t i = 0; i < herd_frame_row_count(summary); i++)
        if (!isnan(cell_num(summary, "median_delta", i)))
            printf("  median rmse change (%s): %.3f\n", cell_str(summary, "decision", i),
                   cell_num(summary, "median_delta", i));
}

/* One week: the cycle on `g`, then its decisions. */
static int run_week(herd_registry *reg, const herd_groups *g, const char *run_id)
{
    const char *features[] = {"price", "promo", "season", "competitor"};
    herd_fit_options fo;
    herd_fit_options_init(&fo, HERD_FIT_OPTIONS_VERSION);
    fo.features = features;
    fo.n_features = 4;
    fo.label = "demand";
    fo.rounds = 200;
    fo.early_stopping_rounds = 10;
    fo.split = HERD_SPLIT_LAST; /* early stopping on each product's latest training weeks */
    fo.valid_order_by = "week";
    herd_compare_options co;
    herd_compare_options_init(&co, HERD_COMPARE_OPTIONS_VERSION);
    co.min_rel_delta = 0.05; /* a challenger must be 5% better... */
    co.bootstrap = 1000;     /* ... and surely so: small holdouts swap models on noise */
    herd_cycle_options cy;
    herd_cycle_options_init(&cy, HERD_CYCLE_OPTIONS_VERSION);
    cy.family = "demand";
    cy.run_id = run_id;
    cy.holdout_fraction = 0.1; /* each product's latest 10% of rows (one per week) */
    cy.holdout_order_by = "week";
    cy.fallback = 1;
    cy.compare = &co;
    herd_frame *d = NULL, *s = NULL;
    double t0 = now();
    int rc = herd_cycle(reg, g, &fo, &cy, NULL, &d, &s);
    double dt = now() - t0;
    if (rc && !d) return fail("running the weekly cycle");
    printf("\n%s: fit %zu products and a family model, register, compare, promote: %.2f s\n",
           run_id, herd_groups_count(g), dt);
    print_decisions(d, s);
    herd_frame_free(d);
    herd_frame_free(s);
    return rc ? fail("promoting") : 0;
}

/* Week-1 data through CSV, as a job reading an export would. */
static int week_one(const char *dir, herd_frame **f, herd_groups **g)
{
    sales s = {0};
    herd_frame *gen = NULL;
    char csv[4096];
    snprintf(csv, sizeof csv, "%s/sales.csv", dir);
    int rc = 0;
    if (generate(&s, 0) || build_frame(&s, &gen)) {
        fprintf(stderr, "herd-demo: out of memory generating data\n");
        rc = 1;
    } else if (herd_frame_write_csv(gen, csv, NULL)) {
        rc = fail("writing the CSV");
    }
    herd_frame_free(gen);
    sales_free(&s);
    if (rc) return rc;
    printf("wrote %s\n", csv);
    double t0 = now();
    if (herd_frame_read_csv(csv, NULL, f)) return fail("reading the CSV");
    double t1 = now();
    const char *keys[] = {"product"};
    if (herd_groups_new(*f, keys, 1, g)) return fail("grouping");
    print_groups(*g, *f, t1 - t0, now() - t1);
    return 0;
}

/* Every row of week 2 predicted from the registry's champions (the family
 * model for products without one). */
static int predict_all(herd_registry *reg, const herd_groups *g)
{
    herd_registry_predict_options po;
    herd_registry_predict_options_init(&po, HERD_REGISTRY_PREDICT_OPTIONS_VERSION);
    po.family = "demand";
    po.fallback = 1;
    herd_frame *p = NULL;
    size_t without = 0;
    double t0 = now();
    if (herd_registry_predict(reg, g, &po, NULL, &p, &without)) return fail("predicting");
    size_t fallback = 0, n = herd_frame_row_count(p);
    for (size_t r = 0; r < n; r++) fallback += cell_num(p, "fallback", r) == 1;
    printf("\npredicted       %zu rows from the champions in %.2f s (%zu by the family model, "
           "%zu without a model)\n", n, now() - t0, fallback, without);
    herd_frame_free(p);
    return 0;
}

static int print_registry(herd_registry *reg)
{
    herd_frame *fam = NULL, *hist = NULL;
    if (herd_registry_families(reg, &fam)) return fail("listing families");
    printf("registry        %s: %.0f versions of %.0f groups in family 'demand'\n",
           herd_registry_path(reg), cell_num(fam, "versions", 0), cell_num(fam, "groups", 0));
    herd_frame_free(fam);
    if (herd_registry_alias_history(reg, "demand", "sku_0000", "champion", &hist))
        return fail("reading the alias history");
    for (size_t i = 0; i < herd_frame_row_count(hist); i++)
        printf("  sku_0000 champion %.0f -> %.0f at %s: %s\n",
               cell_num(hist, "from_version", i), cell_num(hist, "to_version", i),
               cell_str(hist, "time", i), cell_str(hist, "reason", i));
    herd_frame_free(hist);
    printf("  e.g. herd:demand/sku_0000@champion; re-running the demo changes nothing\n");
    return 0;
}

/* Both weeks' data as CSV files, for the herd program. */
static int generate_only(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "herd-demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (int week = 1; week <= 2; week++) {
        sales s = {0};
        herd_frame *f = NULL;
        char csv[4096];
        snprintf(csv, sizeof csv, "%s/week%d.csv", dir, week);
        int rc = 0;
        if (generate(&s, week == 1 ? 0 : NEW_WEEKS) || build_frame(&s, &f)) {
            fprintf(stderr, "herd-demo: out of memory generating data\n");
            rc = 1;
        } else if (herd_frame_write_csv(f, csv, NULL)) {
            rc = fail("writing the CSV");
        }
        herd_frame_free(f);
        sales_free(&s);
        if (rc) return rc;
        printf("wrote %s (%s)\n", csv, week == 1 ? "week 1" : "26 weeks later: a competitor "
               "opened next to a quarter of the products");
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--generate")) return generate_only(argc > 2 ? argv[2] : "herd-demo");
    const char *dir = argc > 1 ? argv[1] : "herd-demo";
    const char *registry = argc > 2 ? argv[2] : "herd-registry";
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "herd-demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    printf("herd %s: two weeks of demand models for %d products\n\n", herd_version_string(),
           PRODUCTS);
    herd_frame *f1 = NULL, *f2 = NULL;
    herd_groups *g1 = NULL, *g2 = NULL;
    herd_registry *reg = NULL;
    sales s2 = {0};
    int rc = week_one(dir, &f1, &g1);
    if (!rc && herd_registry_open(registry, NULL, &reg)) rc = fail("opening the registry");
    if (!rc) rc = run_week(reg, g1, "demo-week-1");
    if (!rc && (generate(&s2, NEW_WEEKS) || build_frame(&s2, &f2))) {
        fprintf(stderr, "herd-demo: out of memory generating data\n");
        rc = 1;
    }
    const char *keys[] = {"product"};
    if (!rc && herd_groups_new(f2, keys, 1, &g2)) rc = fail("grouping");
    if (!rc) printf("\n%d weeks later: a competitor opened next to a quarter of the products, "
                    "which now sell 40%% less\n", NEW_WEEKS);
    if (!rc) rc = run_week(reg, g2, "demo-week-2");
    if (!rc) rc = predict_all(reg, g2);
    if (!rc) rc = print_registry(reg);
    herd_registry_free(reg);
    herd_groups_free(g1);
    herd_groups_free(g2);
    herd_frame_free(f1);
    herd_frame_free(f2);
    sales_free(&s2);
    return rc;
}
