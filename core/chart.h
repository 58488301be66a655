/*
 * chart.h -- stacked bar charts as SVG, for reports a person opens in a
 * browser or an image viewer.
 *
 * A chart is a column of panels (one per programme, say) sharing one set of
 * series (one per outcome); each panel has bars (one per month), each bar
 * stacked from its series' values.  Each panel has its own vertical scale
 * with round ticks, so a small programme stays readable beside a large one.
 * The SVG is self-contained (no script, no external font or style) and
 * well-formed XML: every text is escaped.
 */
#ifndef ELIGO_CHART_H
#define ELIGO_CHART_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef struct chart_series {
    const char *name;    /* legend text */
    const char *color;   /* any SVG colour ("#2e7d32") */
} chart_series;

typedef struct chart_panel {
    const char *title;
    size_t nbars;
    const char *const *labels;   /* NBARS labels, under the bars */
    const int64_t *values;       /* NBARS x NSERIES, bar by bar */
} chart_panel;

/* Write the chart to OUT.  TITLE heads it, YLABEL names the vertical axis.
 * Returns 0, or -1 with E when writing failed. */
int chart_write_svg(FILE *out, const char *title, const char *ylabel,
                    const chart_series *series, size_t nseries,
                    const chart_panel *panels, size_t npanels, err *e);

#endif
