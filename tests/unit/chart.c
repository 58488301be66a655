/* tests/unit/chart.c -- unit tests of core/chart.c: the SVG is well-formed
 * enough to hold what was drawn, texts are escaped, scales are round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"

static const chart_series series[] = {{"eligible", "#2e7d32"}, {"ineligible", "#c62828"}};

/* Draw into memory; the caller frees the text. */
static char *draw(const char *title, const chart_panel *panels, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    err e = {0};
    assert_int_equal(chart_write_svg(f, title, "decisions", series, 2, panels, n, &e), 0);
    fclose(f);
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The highest tick label of SVG's first panel (ticks are the only texts
 * anchored at their end), or -1. */
static long long top_tick(const char *svg)
{
    long long top = -1;
    const char *p = svg, *panel2 = strstr(svg, "<g class=\"panel\">");
    if (panel2)
        panel2 = strstr(panel2 + 1, "<g class=\"panel\">");
    while ((p = strstr(p, "text-anchor=\"end\"")) && (!panel2 || p < panel2)) {
        const char *gt = strchr(p, '>');
        if (!gt)
            break;
        long long v = strtoll(gt + 1, NULL, 10);
        if (v > top)
            top = v;
        p = gt;
    }
    return top;
}

static void test_bars_and_values(void **state)
{
    (void)state;
    const char *labels[] = {"2025-01", "2025-02", "2025-03"};
    const int64_t values[] = {3, 1, 0, 0, 7, 2};   /* bar by bar, series by series */
    chart_panel p = {"idmaj", 3, labels, values};
    char *svg = draw("Decisions", &p, 1);
    assert_non_null(strstr(svg, "<?xml version=\"1.0\""));
    assert_non_null(strstr(svg, "</svg>\n"));
    /* One rect per non-zero value; none for the empty bar. */
    assert_int_equal(count(svg, "class=\"bar\""), 4);
    assert_non_null(strstr(svg, "data-label=\"2025-01\" data-value=\"3\""));
    assert_non_null(strstr(svg, "data-series=\"ineligible\" data-label=\"2025-03\" "
                                "data-value=\"2\""));
    assert_null(strstr(svg, "data-label=\"2025-02\""));
    /* Totals above the bars, and a round top tick (9 -> 10). */
    assert_non_null(strstr(svg, ">9</text>"));
    assert_int_equal(top_tick(svg), 10);
    assert_non_null(strstr(svg, ">eligible</text>"));   /* the legend */
    free(svg);
}

static void test_escaping(void **state)
{
    (void)state;
    const char *labels[] = {"a<b&c"};
    const int64_t values[] = {1, 1};
    chart_panel p = {"\"quoted\" & <tagged>\x01\x1b", 1, labels, values};
    char *svg = draw("R&D <2025>", &p, 1);
    /* No control character, which XML allows in no form: U+FFFD instead. */
    assert_null(strchr(svg, '\x01'));
    assert_null(strchr(svg, '\x1b'));
    assert_non_null(strstr(svg, "&lt;tagged&gt;\xef\xbf\xbd\xef\xbf\xbd"));
    assert_non_null(strstr(svg, "R&amp;D &lt;2025&gt;"));
    assert_non_null(strstr(svg, "&quot;quoted&quot; &amp; &lt;tagged&gt;"));
    assert_non_null(strstr(svg, "a&lt;b&amp;c"));
    assert_null(strstr(svg, "<tagged>"));
    assert_null(strstr(svg, "a<b"));
    free(svg);
}

static void test_scales(void **state)
{
    (void)state;
    /* Ticks are 1, 2 or 5 times a power of ten, about five of them. */
    const char *labels[] = {"x"};
    int64_t values[2] = {0, 0};
    chart_panel p = {"p", 1, labels, values};
    static const struct { int64_t max; long long top; } cases[] = {
        {1, 1}, {7, 8}, {23, 25}, {180, 200}, {12345, 15000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        values[0] = cases[i].max;
        char *svg = draw("t", &p, 1);
        if (top_tick(svg) != cases[i].top)
            fail_msg("max %lld: top tick %lld, not %lld", (long long)cases[i].max,
                     top_tick(svg), cases[i].top);
        free(svg);
    }
    /* No panel, or a panel with no bars, still makes a picture. */
    char *svg = draw("empty", NULL, 0);
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    chart_panel none = {"none", 0, NULL, NULL};
    svg = draw("empty", &none, 1);
    assert_non_null(strstr(svg, "no decisions"));
    free(svg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bars_and_values),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_scales),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
