/*
 * The injection model's scoring loop, compiled.
 *
 * Scoring a folded text is a hash per n-gram, a weight gathered per hash and a sum per
 * window: a few thousand multiply-adds for a kilobyte. numpy does them in bulk but pays
 * about a microsecond of call overhead for each of its forty-odd array operations, which
 * is most of the cost for the short strings that tool arguments are. This module walks
 * the text once and does the same arithmetic with no allocation beyond two per-position
 * arrays for long texts.
 *
 * It must produce exactly the buckets of `_features.extract` (the training script builds
 * its matrix from those): the same polynomial hash over code points with wrapping 64-bit
 * arithmetic, the same salts, the same word-character table, the same windows. Sums are
 * taken in double precision, so a window's logit agrees with numpy's to about 1e-6; the
 * property tests in tests/property/test_injection_kernel.py hold the two together.
 *
 * Everything here is bounds-checked against the lengths Python passes; a mismatch raises
 * ValueError and the caller falls back to numpy, so a bad build cannot score silently
 * wrong.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define P_MULT 0x100000001B3ULL
#define MIX 0x9E3779B97F4A7C15ULL
#define SALT_WORD 0xA24BAED4963EE407ULL
#define SALT_BIGRAM 0x9FB21C651E98DF25ULL
#define MAX_NGRAM 5

typedef struct {
    const float *weights;
    uint64_t mask_shift; /* 64 - bits */
    /* Long texts only: the weight sum and count of the n-grams starting at each offset. */
    double *sums;
    double *counts;
    /* Short texts: one running total. */
    double total;
    double count;
} Acc;

static inline void add(Acc *acc, Py_ssize_t position, uint64_t hash)
{
    uint64_t bucket = hash >> acc->mask_shift;
    double w = (double)acc->weights[bucket];
    if (acc->sums != NULL) {
        acc->sums[position] += w;
        acc->counts[position] += 1.0;
    } else {
        acc->total += w;
        acc->count += 1.0;
    }
}

static inline int is_word(Py_UCS4 cp, const unsigned char *table, Py_ssize_t table_size)
{
    if ((Py_ssize_t)cp >= table_size) {
        return 1; /* CJK, emoji ...: word characters, as in _features._word_bounds */
    }
    return table[cp] != 0;
}

/* Accumulate every n-gram of the text into acc. */
static void accumulate(int kind, const void *data, Py_ssize_t length,
                       const unsigned char *table, Py_ssize_t table_size, Acc *acc)
{
    uint64_t powers[MAX_NGRAM];
    powers[0] = 1;
    for (int k = 1; k < MAX_NGRAM; k++) {
        powers[k] = powers[k - 1] * P_MULT;
    }
    /* Character 3-, 4- and 5-grams starting at j. */
    for (Py_ssize_t j = 0; j + 3 <= length; j++) {
        uint64_t h = 0;
        for (int k = 0; k < MAX_NGRAM && j + k < length; k++) {
            h += (uint64_t)PyUnicode_READ(kind, data, j + k) * powers[k];
            int n = k + 1;
            if (n >= 3) {
                add(acc, j, (h + (uint64_t)n) * MIX);
            }
        }
    }
    /* Words (runs of word characters) and bigrams spanning two neighbouring words with
       whatever separates them. The hash of codes[s:e] is sum(codes[s+k] * P^k). */
    Py_ssize_t prev_start = -1;
    uint64_t prev_hash = 0; /* hash of codes[prev_start:current position) */
    uint64_t prev_power = 1; /* P^(current position - prev_start) */
    Py_ssize_t i = 0;
    while (i < length) {
        Py_UCS4 cp = PyUnicode_READ(kind, data, i);
        if (!is_word(cp, table, table_size)) {
            if (prev_start >= 0) {
                prev_hash += (uint64_t)cp * prev_power;
                prev_power *= P_MULT;
            }
            i++;
            continue;
        }
        Py_ssize_t start = i;
        uint64_t h = 0, power = 1;
        while (i < length) {
            cp = PyUnicode_READ(kind, data, i);
            if (!is_word(cp, table, table_size)) {
                break;
            }
            h += (uint64_t)cp * power;
            power *= P_MULT;
            i++;
        }
        uint64_t span = (uint64_t)(i - start);
        add(acc, start, (h + SALT_WORD + span) * MIX);
        if (prev_start >= 0) {
            uint64_t bigram = prev_hash + h * prev_power;
            uint64_t bigram_span = (uint64_t)(i - prev_start);
            add(acc, prev_start, (bigram + SALT_BIGRAM + bigram_span) * MIX);
        }
        prev_start = start;
        prev_hash = h;
        prev_power = power;
    }
}

/*
 * best_window(folded, weights, bits, bias, word_table, window, stride)
 *     -> (logit, window_start)
 *
 * The highest window logit (weight sum / sqrt(n-gram count) + bias) and the start of the
 * first window that reaches it; the windows are those of _features.window_starts.
 */
static PyObject *best_window(PyObject *self, PyObject *args)
{
    PyObject *text;
    Py_buffer weights, table;
    int bits;
    double bias;
    Py_ssize_t window, stride;
    (void)self;
    if (!PyArg_ParseTuple(args, "Uy*idy*nn", &text, &weights, &bits, &bias, &table, &window,
                          &stride)) {
        return NULL;
    }
    PyObject *result = NULL;
    double *sums = NULL, *counts = NULL;
    if (bits < 10 || bits > 24 || weights.len != (Py_ssize_t)(sizeof(float) << bits) ||
        window <= 0 || stride <= 0) {
        PyErr_SetString(PyExc_ValueError, "weights, window or stride do not fit the model");
        goto done;
    }
    if (PyUnicode_READY(text) < 0) { /* a legacy string: no-op from Python 3.12 on */
        goto done;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Acc acc = {(const float *)weights.buf, (uint64_t)(64 - bits), NULL, NULL, 0.0, 0.0};
    if (length == 0) {
        result = Py_BuildValue("(dn)", bias, (Py_ssize_t)0);
        goto done;
    }
    if (length <= window) {
        accumulate(kind, data, length, (const unsigned char *)table.buf, table.len, &acc);
        double logit = acc.count > 0 ? acc.total / sqrt(acc.count) + bias : bias;
        result = Py_BuildValue("(dn)", logit, (Py_ssize_t)0);
        goto done;
    }
    sums = calloc((size_t)length + 1, sizeof(double));
    counts = calloc((size_t)length + 1, sizeof(double));
    if (sums == NULL || counts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    acc.sums = sums;
    acc.counts = counts;
    accumulate(kind, data, length, (const unsigned char *)table.buf, table.len, &acc);
    /* In place: prefix sums with a leading zero (sums[k] = total before offset k). */
    double run_w = 0.0, run_n = 0.0;
    for (Py_ssize_t k = 0; k <= length; k++) {
        double w = sums[k], n = counts[k];
        sums[k] = run_w;
        counts[k] = run_n;
        run_w += w;
        run_n += n;
    }
    double best = 0.0;
    Py_ssize_t best_start = 0;
    int have = 0;
    Py_ssize_t last = length - window;
    for (Py_ssize_t start = 0;; start += stride) {
        if (start >= last) {
            start = last; /* the final window, flush with the end */
        }
        Py_ssize_t end = start + window;
        double n = counts[end] - counts[start];
        double logit = n > 0 ? (sums[end] - sums[start]) / sqrt(n) + bias : bias;
        if (!have || logit > best) {
            best = logit;
            best_start = start;
            have = 1;
        }
        if (start == last) {
            break;
        }
    }
    result = Py_BuildValue("(dn)", best, best_start);
done:
    free(sums);
    free(counts);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&table);
    return result;
}

static PyMethodDef methods[] = {
    {"best_window", best_window, METH_VARARGS,
     "best_window(folded, weights, bits, bias, word_table, window, stride) -> (logit, start)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_kernel",
    .m_doc = "The injection model's compiled scoring loop.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__kernel(void)
{
    return PyModule_Create(&module);
}
