/*
 * bench/engine.c -- decisions per second of the engine alone, against the
 * floor of the same five programmes hand-written as plain Lua functions.
 *
 *   build/bench_engine [N] [RUNS]     (defaults 100000 applicants, 3 runs)
 *
 * Both sides get the same N generated screen requests (synth.h), one JSON
 * line each, and decide all five programmes for every applicant:
 *   engine  engine_request: decode, validate against the schema, evaluate
 *           every criterion with messages and values, encode each decision
 *           as canonical JSON;
 *   plain   a lua_State with lua-cjson: decode, then five Lua functions that
 *           compute each criterion as a boolean, called through the C API.
 * Runs alternate (engine, plain, engine, ...) so both see the same machine
 * noise; the medians and their ratio are printed.
 */
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "synth.h"

static const char plain_lua[] =
    "local decode = require_cjson.decode\n"
    "local function days(s)\n"
    "  local y, m, d = tonumber(s:sub(1, 4)), tonumber(s:sub(6, 7)), tonumber(s:sub(9, 10))\n"
    "  return y, m, d\n"
    "end\n"
    "local function age(b, on)\n"
    "  local by, bm, bd = days(b); local oy, om, od = days(on)\n"
    "  local a = oy - by\n"
    "  if om < bm or (om == bm and od < bd) then a = a - 1 end\n"
    "  return a\n"
    "end\n"
    "local function months(from, to)\n"
    "  local fy, fm, fd = days(from); local ty, tm, td = days(to)\n"
    "  local n = (ty - fy) * 12 + tm - fm\n"
    "  if td < fd then n = n - 1 end\n"
    "  return n\n"
    "end\n"
    "local EDU = { none = 1, primary = 2, secondary = 3, bac = 4, ['bac+2'] = 5, ['bac+3'] = 6, ['bac+5'] = 7, doctorate = 8 }\n"
    "local function recent(list, prog, n, on)\n"
    "  for _, b in ipairs(list or {}) do\n"
    "    if b.program == prog then local m = months(b.date, on); if b.date <= on and m < n then return true end end\n"
    "  end\n"
    "  return false\n"
    "end\n"
    "local null = require_cjson.null\n"
    "local P = {}\n"
    "function P.idmaj(a, on)\n"
    "  local ag = age(a.birth_date, on)\n"
    "  local since = a.unemployed_since\n"
    "  return { age = ag >= 18 and ag <= 35, registered = a.registered_with_agency == true,\n"
    "    education = EDU[a.education] >= 4, unemployed = a.employment_status == 'unemployed',\n"
    "    waiting = (since ~= null and months(since, on) >= 6) or EDU[a.education] >= 6,\n"
    "    no_recent = not recent(a.previous_benefits, 'idmaj', 24, on) }\n"
    "end\n"
    "function P.taehil(a, on)\n"
    "  local ag = age(a.birth_date, on)\n"
    "  return { age = ag >= 18 and ag <= 45, registered = a.registered_with_agency == true,\n"
    "    education = EDU[a.education] >= 4, not_in_training = a.in_training == false,\n"
    "    unemployed = a.employment_status == 'unemployed' }\n"
    "end\n"
    "function P.intelaka(a, on)\n"
    "  local ag, b = age(a.birth_date, on), a.business\n"
    "  local has = b ~= null and b ~= nil\n"
    "  return { age = ag >= 18 and (a.disability or ag <= 45), plan = has and b.plan_submitted == true,\n"
    "    sector = has and b.sector ~= 'real_estate' and b.sector ~= 'finance',\n"
    "    cost = has and b.project_cost <= 1200000,\n"
    "    contribution = has and math.floor(b.own_contribution * 100 + 0.5) * 10 >= math.floor(b.project_cost * 100 + 0.5),\n"
    "    no_recent = not recent(a.previous_benefits, 'intelaka', 36, on) }\n"
    "end\n"
    "function P.awrach(a, on)\n"
    "  return { age = age(a.birth_date, on) >= 18, unemployed = a.employment_status == 'unemployed',\n"
    "    income = math.floor(a.monthly_household_income * 100 + 0.5) <= 150000 * a.household_size }\n"
    "end\n"
    "local LIMIT = { commerce = 500000, industry = 500000, crafts = 500000, agriculture = 500000,\n"
    "  services = 200000, digital = 200000, tourism = 200000 }\n"
    "function P.auto_entrepreneur(a, on)\n"
    "  local b = a.business\n"
    "  local has = b ~= null and b ~= nil\n"
    "  local lim = has and LIMIT[b.sector]\n"
    "  return { age = age(a.birth_date, on) >= 18, residency = a.nationality == 'MA' or a.residence == 'MA',\n"
    "    activity = has and b.sector ~= 'real_estate' and b.sector ~= 'finance',\n"
    "    turnover = has and lim ~= nil and b.expected_turnover <= lim,\n"
    "    legal_form = has and (b.legal_form == 'none' or b.legal_form == 'auto_entrepreneur') }\n"
    "end\n"
    "local order = { 'idmaj', 'taehil', 'intelaka', 'awrach', 'auto_entrepreneur' }\n"
    "return function(line)\n"
    "  local req = decode(line)\n"
    "  local out = {}\n"
    "  for i = 1, 5 do out[i] = P[order[i]](req.applicant, req.as_of) end\n"
    "  return out\n"
    "end\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    if (n <= 0 || runs <= 0 || runs > 32) {
        fprintf(stderr, "usage: bench_engine [N] [RUNS]\n");
        return 2;
    }

    /* The requests, generated before any clock starts. */
    buf all;
    buf_init(&all, (size_t)1 << 31);
    size_t *start = malloc((size_t)(n + 1) * sizeof *start);
    synth g;
    synth_init(&g, 42);
    for (long i = 0; i < n; i++) {
        start[i] = all.len;
        if (synth_request(&g, "screen", (uint64_t)i, &all) != 0) {
            fprintf(stderr, "bench_engine: generating requests failed\n");
            return 1;
        }
    }
    start[n] = all.len;

    err e;
    ruleset *rs = ruleset_load(ELIGO_SOURCE_DIR "/rules", &e);
    engine *en = rs ? engine_new(rs, NULL, &e) : NULL;
    if (!en) {
        fprintf(stderr, "bench_engine: %s\n", e.msg);
        return 1;
    }
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaopen_cjson(L);
    lua_setglobal(L, "require_cjson");
    if (luaL_loadstring(L, plain_lua) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "bench_engine: %s\n", lua_tostring(L, -1));
        return 1;
    }
    int plain = luaL_ref(L, LUA_REGISTRYINDEX);

    double te[32], tp[32];
    long decisions = 0, errors = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        decisions = errors = 0;
        for (long i = 0; i < n; i++) {
            size_t len = start[i + 1] - start[i] - 1;   /* without the '\n' */
            engine_result *res = engine_request(en, all.data + start[i], len, NULL);
            if (res->error_code)
                errors++;
            decisions += (long)res->ndecisions;
            engine_result_free(res);
        }
        te[r] = now_s() - t0;

        t0 = now_s();
        for (long i = 0; i < n; i++) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, plain);
            lua_pushlstring(L, all.data + start[i], start[i + 1] - start[i] - 1);
            if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
                fprintf(stderr, "bench_engine: plain Lua: %s\n", lua_tostring(L, -1));
                return 1;
            }
            lua_pop(L, 1);
        }
        tp[r] = now_s() - t0;
        printf("run %d: engine %.0f decisions/s, plain Lua %.0f decisions/s\n", r + 1,
               5.0 * n / te[r], 5.0 * n / tp[r]);
    }
    double me = median(te, runs), mp = median(tp, runs);
    printf("applicants %ld, decisions per run %ld (engine errors %ld)\n", n, decisions, errors);
    printf("median engine:    %.0f decisions/s (%.2f us/decision)\n", 5.0 * n / me, me / (5.0 * n) * 1e6);
    printf("median plain Lua: %.0f decisions/s (%.2f us/decision)\n", 5.0 * n / mp, mp / (5.0 * n) * 1e6);
    printf("engine cost / plain Lua floor: %.2fx\n", me / mp);
    uint64_t kept, tried;
    engine_fast_counts(en, &kept, &tried);
    printf("requests decided by the uncounted attempt: %llu of %llu tried, of %ld\n",
           (unsigned long long)kept, (unsigned long long)tried, n * runs);

    luaL_unref(L, LUA_REGISTRYINDEX, plain);
    lua_close(L);
    engine_free(en);
    ruleset_free(rs);
    buf_free(&all);
    free(start);
    return errors ? 1 : 0;
}
