/* synth.c -- see synth.h. */
#include "synth.h"

#include <string.h>

const char *const synth_programs[SYNTH_NPROGRAMS] = {
    "idmaj", "taehil", "intelaka", "awrach", "auto_entrepreneur",
};

static const char *const synth_education[] = {
    "none", "primary", "secondary", "bac", "bac+2", "bac+3", "bac+5", "doctorate",
};
static const char *const synth_status[] = {
    "unemployed", "unemployed", "unemployed", "employed", "student", "self_employed",
};
static const char *const synth_sectors[] = {
    "commerce", "industry", "crafts", "agriculture", "services", "digital", "tourism",
    "real_estate", "finance",
};
static const char *const synth_forms[] = {
    "none", "auto_entrepreneur", "auto_entrepreneur", "sarl", "sarl_au", "snc", "sa",
    "cooperative",
};
static const char *const synth_regions[] = {
    "Tanger-Tetouan-Al Hoceima", "Oriental", "Fes-Meknes", "Rabat-Sale-Kenitra",
    "Beni Mellal-Khenifra", "Casablanca-Settat", "Marrakech-Safi", "Draa-Tafilalet",
    "Souss-Massa", "Guelmim-Oued Noun", "Laayoune-Sakia El Hamra", "Dakhla-Oued Ed-Dahab",
};
static const char *const synth_nationalities[] = {"MA", "MA", "MA", "MA", "MA", "MA", "FR", "SN"};
static const char *const synth_benefits[] = {
    "idmaj", "idmaj", "intelaka", "intelaka", "taehil", "awrach", "forsa",
};
/* Ages picked most often: both sides of every limit of the programmes. */
static const int synth_ages[] = {17, 18, 19, 25, 34, 35, 36, 44, 45, 46, 52, 61};

#define SYNTH_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define SYNTH_PICK(g, a) ((a)[synth_below((g), (uint32_t)SYNTH_COUNT(a))])

void synth_init(synth *g, uint64_t seed)
{
    g->state = seed;
}

static uint64_t synth_next(synth *g)
{
    uint64_t z = (g->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

uint32_t synth_below(synth *g, uint32_t n)
{
    return (uint32_t)(((synth_next(g) >> 32) * n) >> 32);
}

/* True with probability PERCENT in 100. */
static int synth_chance(synth *g, uint32_t percent)
{
    return synth_below(g, 100) < percent;
}

typedef struct synth_date {
    int y, m, d;
} synth_date;

/* D moved back by MONTHS calendar months (days are at most 28, so valid). */
static synth_date synth_months_back(synth_date d, int months)
{
    int m = d.y * 12 + (d.m - 1) - months;
    d.y = m / 12;
    d.m = m % 12 + 1;
    return d;
}

static int synth_date_add(buf *out, const char *key, synth_date d)
{
    return buf_printf(out, "\"%s\":\"%04d-%02d-%02d\"", key, d.y, d.m, d.d);
}

/* A money amount of CENTS centimes as a JSON number with at most 2 decimals. */
static int synth_money_add(buf *out, const char *key, uint64_t cents)
{
    if (cents % 100 == 0)
        return buf_printf(out, "\"%s\":%llu", key, (unsigned long long)(cents / 100));
    return buf_printf(out, "\"%s\":%llu.%02llu", key, (unsigned long long)(cents / 100),
                      (unsigned long long)(cents % 100));
}

static int synth_business(synth *g, buf *out)
{
    static const uint64_t costs[] = {
        5000000, 30000000, 90000000, 119999999, 120000000, 120000001, 150000000,
    };
    /* Own contribution, in thousandths of the cost: at, below and above 10 %. */
    static const uint64_t shares[] = {100, 100, 99, 101, 150, 300, 50};
    /* Expected turnover in MAD: at and around the 200,000 and 500,000 limits. */
    static const uint64_t turnovers[] = {
        60000, 199999, 200000, 200001, 350000, 499999, 500000, 500001, 900000,
    };
    uint64_t cost = costs[synth_below(g, SYNTH_COUNT(costs))];
    uint64_t own = cost * shares[synth_below(g, SYNTH_COUNT(shares))] / 1000;
    int rc = buf_printf(out, "\"business\":{\"sector\":\"%s\",\"plan_submitted\":%s,",
                        SYNTH_PICK(g, synth_sectors), synth_chance(g, 75) ? "true" : "false");
    rc |= synth_money_add(out, "project_cost", cost);
    rc |= buf_addc(out, ',');
    rc |= synth_money_add(out, "own_contribution", own);
    rc |= buf_addc(out, ',');
    rc |= synth_money_add(out, "expected_turnover",
                          turnovers[synth_below(g, SYNTH_COUNT(turnovers))] * 100);
    rc |= buf_printf(out, ",\"legal_form\":\"%s\"}", SYNTH_PICK(g, synth_forms));
    return rc;
}

static int synth_applicant(synth *g, uint64_t id, synth_date on, buf *out)
{
    int rc = buf_printf(out, "{\"applicant_id\":\"S%08llu\",", (unsigned long long)id);

    /* Born near the anniversary of a limit: a few days either side of it, on
     * the decision date itself, or on 29 February. */
    int age = synth_chance(g, 80) ? SYNTH_PICK(g, synth_ages) : 18 + (int)synth_below(g, 45);
    synth_date birth = {on.y - age, on.m, on.d};
    int shift = (int)synth_below(g, 7) - 3;
    birth.d += shift;
    if (birth.d < 1 || birth.d > 28)
        birth.d = on.d;
    if (synth_chance(g, 3)) {
        birth.y -= birth.y % 4;   /* a leap year: 1964 to 2008, all divisible by 400 or not 100 */
        birth.m = 2;
        birth.d = 29;
    }
    rc |= synth_date_add(out, "birth_date", birth);

    rc |= buf_printf(out, ",\"nationality\":\"%s\",\"residence\":\"%s\",\"region\":\"%s\","
                     "\"education\":\"%s\",\"registered_with_agency\":%s,",
                     SYNTH_PICK(g, synth_nationalities), synth_chance(g, 93) ? "MA" : "abroad",
                     SYNTH_PICK(g, synth_regions), SYNTH_PICK(g, synth_education),
                     synth_chance(g, 80) ? "true" : "false");

    const char *status = SYNTH_PICK(g, synth_status);
    rc |= buf_printf(out, "\"employment_status\":\"%s\",", status);
    if (!strcmp(status, "unemployed") && !synth_chance(g, 10)) {
        static const int waits[] = {1, 3, 5, 6, 6, 7, 12, 30};
        rc |= synth_date_add(out, "unemployed_since",
                             synth_months_back(on, SYNTH_PICK(g, waits)));
    } else {
        rc |= buf_adds(out, "\"unemployed_since\":null");
    }

    /* Income per person on both sides of the 1,500 MAD ceiling. */
    static const uint64_t per_person[] = {
        40000, 90000, 149999, 150000, 150000, 150001, 160000, 250000, 600000,
    };
    uint64_t size = 1 + synth_below(g, 7);
    rc |= buf_addc(out, ',');
    rc |= synth_money_add(out, "monthly_household_income",
                          per_person[synth_below(g, SYNTH_COUNT(per_person))] * size);
    rc |= buf_printf(out, ",\"household_size\":%llu,\"disability\":%s,\"in_training\":%s,",
                     (unsigned long long)size, synth_chance(g, 6) ? "true" : "false",
                     synth_chance(g, 15) ? "true" : "false");

    if (synth_chance(g, 45))
        rc |= buf_adds(out, "\"business\":null");
    else
        rc |= synth_business(g, out);

    /* Earlier benefits, inside and outside the 24 and 36 month waits. */
    static const int ago[] = {3, 23, 24, 25, 35, 36, 37, 60};
    rc |= buf_adds(out, ",\"previous_benefits\":[");
    uint32_t n = synth_chance(g, 60) ? 0 : 1 + synth_below(g, 2);
    for (uint32_t i = 0; i < n; i++) {
        rc |= buf_printf(out, "%s{\"program\":\"%s\",", i ? "," : "", SYNTH_PICK(g, synth_benefits));
        rc |= synth_date_add(out, "date", synth_months_back(on, SYNTH_PICK(g, ago)));
        rc |= buf_addc(out, '}');
    }
    rc |= buf_adds(out, "]}");
    return rc ? -1 : 0;
}

int synth_request(synth *g, const char *op, uint64_t id, buf *out)
{
    size_t mark = out->len;
    synth_date on = {2025, 1 + (int)synth_below(g, 12), 1 + (int)synth_below(g, 28)};
    int rc = buf_printf(out, "{\"id\":%llu,\"op\":\"%s\",", (unsigned long long)id, op);
    if (!strcmp(op, "decide"))
        rc |= buf_printf(out, "\"program\":\"%s\",", synth_programs[id % SYNTH_NPROGRAMS]);
    rc |= synth_date_add(out, "as_of", on);
    rc |= buf_adds(out, ",\"applicant\":");
    rc |= synth_applicant(g, id, on, out);
    rc |= buf_adds(out, "}\n");
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return -1;
    }
    return 0;
}
