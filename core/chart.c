/*
 * chart.c -- stacked bar charts as SVG.
 *
 * Layout, top to bottom: the title, the legend (one swatch per series), then
 * the panels, each a plot of fixed height with its title above it, a left
 * axis with round ticks and horizontal grid lines, and the bar labels below
 * (turned 45 degrees when there are many bars).  Bars keep a fixed width, so
 * the picture grows to the right with the number of months rather than
 * squeezing them; a panel with few bars is as wide as the title needs.
 */
#include "chart.h"

#include <errno.h>
#include <string.h>

#define CH_MARGIN_L 70     /* room for the tick labels and the axis name */
#define CH_MARGIN_R 20
#define CH_TITLE_H 40
#define CH_LEGEND_H 30
#define CH_PANEL_TITLE_H 40
#define CH_PLOT_H 220
#define CH_LABELS_H 60     /* bar labels under the plot */
#define CH_BAR_W 30
#define CH_BAR_GAP 26     /* room for a "2025-03" label under each bar */
#define CH_MIN_PLOT_W 480
#define CH_FONT "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\""

/* Write S with the five XML special characters escaped, and each control
 * character, which XML 1.0 allows in no form, as U+FFFD. */
static void chart_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
                fputs("\xef\xbf\xbd", out);
            else
                fputc(*s, out);
        }
    }
}

/* A round step for an axis going up to MAX with about 5 ticks: 1, 2 or 5
 * times a power of ten. */
static int64_t chart_step(int64_t max)
{
    int64_t step = 1;
    while (step * 5 < max) {
        if (step * 2 * 5 >= max)
            return step * 2;
        if (step * 5 * 5 >= max)
            return step * 5;
        step *= 10;
    }
    return step;
}

static void chart_panel_svg(FILE *out, const chart_panel *p, const chart_series *series,
                            size_t nseries, const char *ylabel, int top)
{
    int64_t max = 0;
    for (size_t b = 0; b < p->nbars; b++) {
        int64_t sum = 0;
        for (size_t s = 0; s < nseries; s++)
            sum += p->values[b * nseries + s];
        if (sum > max)
            max = sum;
    }
    int64_t step = chart_step(max > 0 ? max : 1);
    int64_t ymax = ((max + step - 1) / step) * step;
    if (ymax == 0)
        ymax = step;
    int y0 = top + CH_PANEL_TITLE_H;           /* top of the plot */
    int ybase = y0 + CH_PLOT_H;                /* the zero line */
    int plot_w = (int)p->nbars * (CH_BAR_W + CH_BAR_GAP) + CH_BAR_GAP;
    if (plot_w < CH_MIN_PLOT_W)
        plot_w = CH_MIN_PLOT_W;

    fprintf(out, "<g class=\"panel\">\n<text x=\"%d\" y=\"%d\" font-size=\"15\" "
            "font-weight=\"bold\" " CH_FONT ">", CH_MARGIN_L, top + 16);
    chart_text(out, p->title);
    fputs("</text>\n", out);

    /* Grid lines and ticks. */
    for (int64_t v = 0; v <= ymax; v += step) {
        double y = ybase - (double)v * CH_PLOT_H / (double)ymax;
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"1\"/>\n", CH_MARGIN_L, y, CH_MARGIN_L + plot_w, y,
                v ? "#e0e0e0" : "#444");
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" "
                CH_FONT ">%lld</text>\n", CH_MARGIN_L - 6, y + 4, (long long)v);
    }
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n",
            CH_MARGIN_L, y0, CH_MARGIN_L, ybase);
    fprintf(out, "<text transform=\"translate(%d,%d) rotate(-90)\" font-size=\"12\" "
            "text-anchor=\"middle\" " CH_FONT ">", 18, y0 + CH_PLOT_H / 2);
    chart_text(out, ylabel);
    fputs("</text>\n", out);

    /* Bars: each series stacked from the bottom, in series order. */
    int slant = p->nbars > 16;
    for (size_t b = 0; b < p->nbars; b++) {
        int x = CH_MARGIN_L + CH_BAR_GAP + (int)b * (CH_BAR_W + CH_BAR_GAP);
        double y = ybase;
        int64_t total = 0;
        for (size_t s = 0; s < nseries; s++) {
            int64_t v = p->values[b * nseries + s];
            total += v;
            if (v <= 0)
                continue;
            double h = (double)v * CH_PLOT_H / (double)ymax;
            y -= h;
            fprintf(out, "<rect class=\"bar\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
                    "fill=\"%s\" data-series=\"", x, y, CH_BAR_W, h, series[s].color);
            chart_text(out, series[s].name);
            fprintf(out, "\" data-label=\"");
            chart_text(out, p->labels[b]);
            fprintf(out, "\" data-value=\"%lld\"><title>", (long long)v);
            chart_text(out, p->labels[b]);
            fputs(", ", out);
            chart_text(out, series[s].name);
            fprintf(out, ": %lld</title></rect>\n", (long long)v);
        }
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" "
                "fill=\"#333\" " CH_FONT ">%lld</text>\n", x + CH_BAR_W / 2, y - 4,
                (long long)total);
        if (slant)
            fprintf(out, "<text transform=\"translate(%d,%d) rotate(-45)\" font-size=\"11\" "
                    "text-anchor=\"end\" " CH_FONT ">", x + CH_BAR_W / 2 + 4, ybase + 14);
        else
            fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" "
                    CH_FONT ">", x + CH_BAR_W / 2, ybase + 16);
        chart_text(out, p->labels[b]);
        fputs("</text>\n", out);
    }
    if (p->nbars == 0)
        fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#666\" " CH_FONT
                ">no decisions</text>\n", CH_MARGIN_L + 20, y0 + CH_PLOT_H / 2);
    fputs("</g>\n", out);
}

int chart_write_svg(FILE *out, const char *title, const char *ylabel,
                    const chart_series *series, size_t nseries,
                    const chart_panel *panels, size_t npanels, err *e)
{
    size_t most = 0;
    for (size_t i = 0; i < npanels; i++)
        if (panels[i].nbars > most)
            most = panels[i].nbars;
    int plot_w = (int)most * (CH_BAR_W + CH_BAR_GAP) + CH_BAR_GAP;
    if (plot_w < CH_MIN_PLOT_W)
        plot_w = CH_MIN_PLOT_W;
    int width = CH_MARGIN_L + plot_w + CH_MARGIN_R;
    int title_w = CH_MARGIN_L + 11 * (int)strlen(title ? title : "") + CH_MARGIN_R;
    if (width < title_w)   /* about 11 pixels a character at 18 px, bold */
        width = title_w;
    int panel_h = CH_PANEL_TITLE_H + CH_PLOT_H + CH_LABELS_H;
    int height = CH_TITLE_H + CH_LEGEND_H + (int)npanels * panel_h + 10;

    errno = 0;
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"26\" font-size=\"18\" font-weight=\"bold\" " CH_FONT ">",
            width, height, width, height, CH_MARGIN_L);
    chart_text(out, title);
    fputs("</text>\n<g class=\"legend\">\n", out);
    int lx = CH_MARGIN_L;
    for (size_t s = 0; s < nseries; s++) {
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\" font-size=\"12\" " CH_FONT ">", lx, CH_TITLE_H,
                series[s].color, lx + 20, CH_TITLE_H + 12);
        chart_text(out, series[s].name);
        fputs("</text>\n", out);
        lx += 40 + 8 * (int)strlen(series[s].name);
    }
    fputs("</g>\n", out);
    for (size_t i = 0; i < npanels; i++)
        chart_panel_svg(out, &panels[i], series, nseries, ylabel,
                        CH_TITLE_H + CH_LEGEND_H + (int)i * panel_h);
    fputs("</svg>\n", out);
    if (fflush(out) != 0 || ferror(out))
        return err_set(e, "internal", "writing the chart: %s", strerror(errno ? errno : EIO));
    return 0;
}
