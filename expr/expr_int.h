/*
 * expr_int.h - what the files of expr/ share and nothing outside includes:
 * the decimal number type, runtime values, the AST, scopes and the
 * evaluation state.
 *
 * Memory: an AST lives in the compiled expression's arena (immutable after
 * compile, so one expression may be evaluated by many threads at once).
 * Runtime values live in a per-evaluation scratch allocator whose first
 * block is on the C stack, so scalar and small list evaluations never touch
 * the heap; values may borrow text and JSON from the AST and from the
 * variables (valid for the whole evaluation), never the other way round.
 */
#ifndef BATON_EXPR_INT_H
#define BATON_EXPR_INT_H

#define DECIMAL_CALL_BY_REFERENCE      0
#define DECIMAL_GLOBAL_ROUNDING        0
#define DECIMAL_GLOBAL_EXCEPTION_FLAGS 0
#include <bid_conf.h>
#include <bid_functions.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/error.h"
#include "expr/expr.h"

/* ---- bounds ------------------------------------------------------------------------ */

#define BATON_EXPR_MAX_LEN        (64 * 1024) /* source bytes */
#define BATON_EXPR_MAX_DEPTH      64          /* nesting of brackets and sub-expressions */
#define BATON_EXPR_MAX_HEIGHT     256         /* height of the AST (long operator chains) */
#define BATON_EXPR_MAX_STEPS      1000000u    /* default evaluation steps */
#define BATON_EXPR_MAX_CALLS      48          /* nested user function calls */
#define BATON_EXPR_MAX_EVAL_DEPTH 600         /* recursion of the evaluator */
#define BATON_EXPR_MAX_BYTES      (16u << 20) /* scratch memory of one evaluation */
#define BATON_EXPR_MAX_ITEMS      (1u << 20)  /* elements of one list or context */
#define BATON_EXPR_MAX_JSON_DEPTH 64          /* nesting of JSON results */

/* ---- decimals (IEEE 754-2008 decimal128, BID encoding) ----------------------------- */

typedef BID_UINT128 dec;
#define DEC_RND BID_ROUNDING_TO_NEAREST

dec baton_dec_from_int(int64_t v);
/* Shortest decimal text that round-trips the double (0.1 stays 0.1). */
dec baton_dec_from_double(double d);
/* Parse decimal text; false when it is not a finite number. */
bool baton_dec_parse(const char *s, size_t len, dec *out);
double baton_dec_to_double(dec d);
/* Plain text without exponent for moderate magnitudes, trailing zeros dropped. */
size_t baton_dec_format(dec d, char *buf, size_t cap);
bool baton_dec_is_int(dec d);
/* Integer value when d is integral and fits; false otherwise. */
bool baton_dec_to_int(dec d, int64_t *out);
bool baton_dec_finite(dec d);
int baton_dec_cmp(dec a, dec b); /* -1, 0, 1 */
bool baton_dec_is_zero(dec d);
bool baton_dec_neg(dec d);
static inline dec baton_dec_scalbn(dec x, int n) { /* x * 10^n */
    _IDEC_flags f = 0;
    return bid128_scalbn(x, n, DEC_RND, &f);
}

/* memcpy that accepts (NULL, 0): empty lists have no items array. */
static inline void baton_copy(void *dst, const void *src, size_t n) {
    if (n)
        __builtin_memcpy(dst, src, n);
}

/* ---- values ------------------------------------------------------------------------ */

typedef enum vtype {
    T_NULL = 0,
    T_BOOL,
    T_NUM,
    T_STR,
    T_DATE,
    T_TIME,
    T_DT,  /* date and time */
    T_DTD, /* days and time duration */
    T_YMD, /* years and months duration */
    T_LIST,
    T_CTX,
    T_RANGE,
    T_FUNC,
    T_COUNT_
} vtype;

/* Representation of lists and contexts. */
enum { REP_NATIVE = 0, REP_JSON = 1 };

typedef struct fv fv;
typedef struct centry centry;
typedef struct frange frange;
typedef struct ffunc ffunc;

struct fv {
    uint8_t t;     /* vtype */
    uint8_t k;     /* T_TIME/T_DT: baton_tm_kind; T_LIST/T_CTX: REP_* */
    uint16_t zone; /* zone id (tz.h) when k == BATON_TM_ZONE */
    uint32_t n;    /* T_STR bytes; native T_LIST/T_CTX entries */
    union {
        bool b;
        dec d;
        const char *s;
        int64_t i; /* T_DATE: days since 1970-01-01; T_YMD: months */
        struct {
            int64_t a;   /* T_DT: local seconds; T_TIME: ns of day; T_DTD: seconds */
            int32_t ns;  /* T_DT, T_DTD: nanoseconds [0, 1e9) */
            int32_t off; /* T_DT, T_TIME: offset seconds when k != LOCAL */
        } tm;
        const fv *items;
        const centry *ents;
        const cJSON *json;
        const frange *rng;
        const ffunc *fn;
    } u;
};

struct centry {
    const char *name;
    uint32_t len;
    fv v;
};

struct frange {
    fv lo, hi; /* T_NULL = unbounded */
    bool lo_in, hi_in;
};

struct builtin;
struct node;
struct scope;

struct ffunc {
    const struct builtin *bi; /* built-in, or */
    const struct node *def;   /* N_FUNCDEF closing over */
    const struct scope *env;
};

/* ---- AST ---------------------------------------------------------------------------- */

typedef enum nkind {
    N_LIT,    /* constant value */
    N_VAR,    /* name */
    N_PATH,   /* a.name */
    N_FILTER, /* a[b] */
    N_INDEX,  /* JUEL a[b]: property or 0-based index */
    N_CALL,   /* a(kids...) or builtin(kids...), names for named arguments */
    N_NEG,    /* -a */
    N_NOT,    /* JUEL !a / not a */
    N_ARITH,  /* a op b */
    N_CMP,    /* a op b */
    N_AND,
    N_OR,
    N_IF,  /* if a then b else c (JUEL a ? b : c) */
    N_FOR, /* for names in kids return a */
    N_SOME,
    N_EVERY,
    N_BETWEEN, /* a between b and c */
    N_IN,      /* a in (kids) */
    N_UTEST,   /* unary test "op a" against the input value ? */
    N_INSTOF,  /* a instance of type */
    N_LIST,
    N_CTX,      /* {names: kids} */
    N_RANGE,    /* a..b with op bits: 1 = start included, 2 = end included */
    N_FUNCDEF,  /* function(names) a */
    N_EMPTY,    /* JUEL empty a */
    N_TEMPLATE, /* JUEL text template: kids concatenated as text */
} nkind;

typedef enum nop {
    OP_ADD = 1,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_POW,
    OP_MOD,
    OP_IDIV,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
} nop;

/* Node flags. */
enum {
    NF_JUEL = 1,      /* JUEL semantics (coercions, missing variable is an error) */
    NF_RANGE_EXPR = 2 /* N_RANGE written as a..b (for-loop iteration) */
};

/* A type for `instance of`. */
typedef struct ftype {
    int8_t base;            /* vtype, or -1 for Any */
    const struct ftype *of; /* element type of list<T> / range<T> */
} ftype;

typedef struct nname {
    const char *s;
    uint32_t len;
} nname;

typedef struct node {
    uint8_t kind;
    uint8_t op;
    uint8_t flags;
    uint16_t depth; /* height of the subtree, bounded by BATON_EXPR_MAX_HEIGHT */
    uint32_t col;   /* 1-based source column, for messages */
    uint32_t n;     /* number of kids / names */
    struct node *a, *b, *c;
    struct node **kids;
    nname *names;             /* N_FOR/N_SOME/N_EVERY/N_CTX/N_FUNCDEF/N_CALL (NULL = positional) */
    nname name;               /* N_VAR, N_PATH */
    const struct builtin *bi; /* N_CALL to a built-in */
    const ftype *type;        /* N_INSTOF */
    fv lit;                   /* N_LIT */
} node;

struct baton_expr {
    baton_expr_lang lang;
    char *src;        /* as given */
    node *root;       /* NULL for static text */
    const char *text; /* static text (trimmed) */
    size_t text_len;
    baton_arena *arena; /* the AST */
};

/*
 * Compile `src[0..len)`, a slice of e->src, in `lang` into e->root; columns
 * in errors count from the start of e->src.
 */
baton_status baton_feel_parse(baton_expr *e, const char *src, size_t len, baton_expr_lang lang,
                              baton_error *err);

/* ---- evaluation --------------------------------------------------------------------- */

typedef struct chunk chunk;

typedef struct scratch {
    char *p, *end; /* current block */
    chunk *heap;   /* heap blocks, newest first */
    size_t used;   /* bytes handed out, for the size bound */
    size_t limit;
} scratch;

enum { S_BIND, S_CTX, S_BUILD };

typedef struct cbuild { /* a context literal while it is being evaluated */
    centry *ents;
    uint32_t n;
} cbuild;

typedef struct scope {
    const struct scope *up;
    uint8_t kind;
    nname name;      /* S_BIND */
    fv v;            /* S_BIND value, S_CTX context */
    const cbuild *b; /* S_BUILD */
} scope;

typedef struct ev ev;
struct ev {
    const baton_expr_env *env;
    const scope *sc;
    uint32_t steps, max_steps;
    uint32_t depth, calls;
    scratch mem;
    baton_error *err;
    bool over;     /* a helper ran out of steps (see baton_feel_equal) */
    char why[160]; /* first reason a value became null, for condition errors */
};

void *baton_feel_alloc(ev *x, size_t n);
/* The status of the failure baton_feel_alloc() recorded in x->err when it returned NULL (or of an
   earlier one: the first wins). Never BATON_OK, which the analyzer cannot see across files. */
static inline baton_status baton_feel_failed(const ev *x) {
    return x->err->code ? x->err->code : BATON_NOMEM;
}
void baton_feel_scratch_init(scratch *s, void *first, size_t first_len, size_t limit);
void baton_feel_scratch_fini(scratch *s);

/* Note why a result became null (first reason wins); always returns BATON_OK. */
baton_status baton_feel_null(ev *x, fv *out, const char *fmt, ...) BATON_PRINTF(3, 4);
baton_status baton_feel_eval(ev *x, const node *n, fv *out);
baton_status baton_feel_call(ev *x, const fv *fn, fv *args, uint32_t nargs, fv *out);

/* Values (value.c). */
void baton_feel_from_json(const cJSON *j, fv *out);
uint32_t baton_feel_list_len(const fv *l);
/* Element i of a list (native or JSON); for JSON, walks from the front. */
void baton_feel_list_get(const fv *l, uint32_t i, fv *out);
/* Native items of a list (materialised in scratch for JSON lists). */
baton_status baton_feel_list_items(ev *x, const fv *l, const fv **items_out, uint32_t *n_out);
/* Look up key in a context; false when absent. */
bool baton_feel_ctx_get(const fv *c, const char *key, size_t len, fv *out);
baton_status baton_feel_ctx_entries(ev *x, const fv *c, const centry **ents_out, uint32_t *n_out);
/*
 * FEEL `=`: 1 true, 0 false, -1 null (incomparable). Comparing lists and
 * contexts costs a step per element (x may be NULL: unbounded); when the
 * bound runs out the result is -1 and x->over is set, which the evaluator
 * turns into BATON_LIMIT.
 */
int baton_feel_equal(struct ev *x, const fv *a, const fv *b);
/* Ordering: -1/0/1, or 2 when the values cannot be ordered. */
int baton_feel_compare(const fv *a, const fv *b);
/* Instant of a zoned date-time in UTC seconds (local ones: as if UTC). */
int64_t baton_feel_dt_utc(const fv *v);
const char *baton_feel_type_name(const fv *v);
/* Canonical text of a scalar (string(x) in FEEL) appended to b. */
baton_status baton_feel_to_text(const fv *v, baton_buf *b);
/* Plain JSON of a value (numbers as numbers, temporals as strings). */
baton_status baton_feel_to_json_text(const fv *v, baton_buf *b, int depth);
/* `budget`: bytes the JSON may take (nodes count 64); BATON_LIMIT past it. */
baton_status baton_feel_to_cjson(const fv *v, cJSON **out, int depth, size_t *budget);
void baton_feel_str(fv *out, const char *s, size_t len);
void baton_feel_num(fv *out, dec d);
void baton_feel_bool(fv *out, bool b);
/* Make a date-time from local seconds/nanos in a zone (resolving gaps/overlaps). */
void baton_feel_dt_zoned(fv *out, int64_t local, int32_t ns, uint16_t zone);
/* Parse temporal/duration text into a value of the type asked for (T_NULL if not). */
baton_status baton_feel_parse_temporal(const char *s, size_t len, int want, fv *out,
                                       baton_error *err);

/* Built-ins (builtins.c). */
typedef baton_status (*builtin_fn)(ev *x, fv *args, uint32_t n, fv *out);
typedef struct builtin {
    const char *name;
    uint8_t min, max; /* arity; max 255 = any number */
    builtin_fn fn;
    const char *params[4];
} builtin;
#define BI_VARIADIC 255
const builtin *baton_feel_builtin(const char *name, size_t len);
/* Longest built-in function name that s[0..len) starts with, word-aligned; 0 if none. */
size_t baton_feel_builtin_prefix(const char *s, size_t len, const builtin **bi_out);

#endif
