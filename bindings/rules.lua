--[[
rules.lua -- the rule language: declarations, helpers, the sandbox, decisions.

This file is compiled into the eligo binary and run once per Lua state by
engine.c, with full access to the standard library and to the C helpers of
bindings.c (passed as the chunk's arguments).  It captures what it needs in
locals, builds the environment rule files run in, and returns the table of
entry points engine.c calls:

  load(name, text)   run one rule or test file in the sandbox
  seal(hash)         after the last file: check, index and freeze the set
  request(line, op, program, as_of, lang, history)   one request line, defaults after it
  programs(as_of, lang)            the programmes in force, as a JSON text
  lint()             every problem of the loaded set, as {file, line, msg}
  case_count(), run_case(i), case_aborted(i, code, msg), coverage_notes()   the test cases
  after()            the check that no state was kept, when one may have been (api.seal)

States of a loaded set: LOADING (files being run; declarations accumulate)
-> SEALED (seal() succeeded; requests may run).  Invariants:
  1. Rule files never see this file's locals, the C helpers that are not
     re-exported, the standard library functions left out of the sandbox, or
     each other's environments.
  2. After seal(), every table a rule can reach is frozen, and every other
     value a rule function closes over is watched by after().
  3. A request reads only the request, the sealed set and the decision date.
]]

local C, cjson = ...

local pairs, ipairs, next, type, tonumber, select = pairs, ipairs, next, type, tonumber, select
local error, pcall, rawget, rawset, setmetatable, getmetatable = error, pcall, rawget, rawset, setmetatable, getmetatable
local string_format, table_concat, table_sort, math_type, math_tointeger = string.format, table.concat, table.sort, math.type, math.tointeger
local table_unpack, rawlen = table.unpack, rawlen
local load, debug_getinfo, debug_getupvalue, debug_upvalueid = load, debug.getinfo, debug.getupvalue, debug.upvalueid
local debug_getlocal = debug.getlocal
local debug_getmetatable, debug_setmetatable = debug.getmetatable, debug.setmetatable
local string_sub, string_find, string_match, string_gsub, string_gmatch, string_byte = string.sub, string.find, string.match, string.gsub, string.gmatch, string.byte
local decode, null = C.decode, cjson.null
-- Lua's tostring writes a table or a function as its address, which changes
-- from run to run; a rule can catch an error message with pcall and keep it
-- in a decision.  Every text made here says "a table" instead (bindings.c).
local tostring = C.name
local c_parse_date, c_is_in, c_window_start = C.parse_date, C.is_in, C.window_start
local c_cents, c_render, c_format, c_canon, c_sha256 = C.cents, C.render, C.format, C.canon, C.sha256
local c_now, c_today, c_add_days, c_decider = C.now, C.today, C.add_days, C.decider
local c_utf8_bad, c_blank, c_nfc = C.utf8_bad, C.blank, C.nfc

local LANGS = { "en", "fr", "ar" }
local LANG_OK = { en = true, fr = true, ar = true }
local ARRAY = C.array_mt   -- JSON arrays (decode sets it; canon.c writes [] for it)
local ORDER = C.order_mt   -- a key order canon.c follows (a rule's own it does not)
-- Sorting a rule's texts pays for comparing them, as the rules' own sort does
-- (engine.c): long texts, or texts of NULs, take long to compare.
local charged_sort = C.sort   -- pays for its work, as the rules' does (order.c)
local function order(keys) return setmetatable(keys, ORDER) end
ARRAY.__metatable = "list"   -- shared by every list of every request: not the rules' to change
local WORDS = {
  -- after a criterion's text, its colon too: French sets it apart
  met = { en = ": met", fr = " : satisfait", ar = ": مستوفى" },
  not_met = { en = ": not met", fr = " : non satisfait", ar = ": غير مستوفى" },
  missing = { en = "missing data: ", fr = "donnée manquante : ", ar = "بيانات ناقصة: " },
  -- The display names of the values of each enum field of the schema (by
  -- its path, business.sector) and of each scale (by its name), per
  -- language: labels[lang][name][code], the label in that language, else
  -- the English one.  A template's {x|name} shows x by them.  Filled at seal.
  labels = { en = {}, fr = {}, ar = {} },
}

-- The loaded set ------------------------------------------------------------

local programs = {}      -- id -> { versions sorted by from }
local program_order = {} -- ids in the order first declared
local params = {}        -- name -> { name, reference, file, line, values = { {from, to, value, n: its place as written} } }
local scales = {}        -- name -> { values..., rank = { value -> i } }
local schema, schema_at  -- the applicant record type; the file and line that declared it
local key_line           -- where a declaration's problem is to be fixed: see it, after tokens
local DATE_BOUNDED = {}  -- the schema's own fields of type date { not_after = "as_of" }
local cases = {}         -- test cases
local case_named = {}    -- file .. "\0" .. name -> the first case of that name in that file
local problems = {}      -- { file, line, msg } found while loading
local sources = {}       -- file name -> text, for lint's parameter scan
local broken = {}        -- file name -> true: it did not load (its problem is reported)
local watched = {}       -- { f, i, value, name, owner, where, file, line }: see after()
local watched_flat = {}  -- f, i, value of entry k at 3k-2 .. 3k (value may be nil), for C.restore
local watched_ids = {}   -- upvalue id -> true: closures of one file share a local's cell
local sealed = false
local RULESET = ""

-- Where the rule file that called a declaration is: file name and line.
local function caller(level)
  local info = debug_getinfo(level + 1, "Sl")
  if not info then return "?", 0 end
  return (string_gsub(info.source, "^@", "")), info.currentline
end

-- What a rule set declares goes into replies and the audit trail, which are
-- UTF-8 like every line of the protocol: a declared text that is not (made
-- with "\xe9" or string.char) stops the file.  WHAT must not quote it.
local function check_utf8(file, line, what, s)
  local bad = type(s) == "string" and c_utf8_bad(s)
  if bad then error(string_format("%s:%d: %s is not UTF-8 text (byte %d)", file, line, what, bad), 0) end
end

-- A programme's id and version also cross into C as C strings (engine.h's
-- engine_decision and engine_explain, the store's columns): a NUL byte would
-- cut them short there, and a decision could not be found or explained by
-- them.  WHAT must not quote the text.
local function check_no_nul(file, line, what, s)
  local at = type(s) == "string" and string_find(s, "\0", 1, true)
  if at then error(string_format("%s:%d: %s holds a NUL byte (byte %d)", file, line, what, at), 0) end
end

local function problem(file, line, fmt, ...)
  problems[#problems + 1] = { file = file, line = line, msg = string_format(fmt, ...) }
end

-- A declaration error stops the file that made it, naming its line.
local function decl_error(level, fmt, ...)
  local file, line = caller(level + 1)
  error(string_format("%s:%d: %s", file, line, string_format(fmt, ...)), 0)
end

-- Request errors carry a protocol code.
local REQUEST_ERROR = {}
local function fail(code, fmt, ...)
  error(setmetatable({ code = code, message = string_format(fmt, ...) }, REQUEST_ERROR), 0)
end

-- Freezing ------------------------------------------------------------------
-- A frozen table keeps its contents in a shadow table named by its
-- metatable; reads go through __index, writes raise.  The table keeps its
-- identity, so every reference to it is frozen at once.

local frozen = setmetatable({}, { __mode = "k" })   -- table -> shadow
local frozen_mt = setmetatable({}, { __mode = "k" })   -- table -> the metatable it had

local function refuse_write(t, k)
  -- At the rule's line, also when a library function (table.move, table.sort)
  -- writes on its behalf: the first caller that runs a line, not the C one.
  local level = 2
  while true do
    local info = debug_getinfo(level, "l")
    if not info then level = 2; break end
    if info.currentline > 0 then break end
    level = level + 1
  end
  error(string_format("cannot modify field '%s' of a rule-set table: rules keep no state between decisions", tostring(k)), level)
end

local envs = setmetatable({}, { __mode = "k" })     -- the rule files' environments (read-only already)

-- pairs() of a frozen table: its contents, without handing out the shadow
-- (which a rule could write through).
local function frozen_next(t, k) return next(frozen[t], k) end

local FROZEN_OWN = { __index = true, __newindex = true, __len = true, __pairs = true,
  __metatable = true, __frozen = true, __mode = true, __gc = true, __ownpairs = true, __origin = true }

local function freeze(t)
  if frozen[t] or envs[t] then return t end
  local old = debug_getmetatable(t)   -- a rule's own __metatable does not keep its table unfrozen
  -- The shadow keeps T's list part as a list: {1, nil, 3} copied key by key
  -- would leave 3 in the hash part, a border of 1, and the list's text
  -- refused.  Read raw: T's own metamethods are set aside meanwhile.
  debug_setmetatable(t, nil)
  local n = rawlen(t)
  local shadow = n > 0 and n <= 100000 and { table_unpack(t, 1, n) } or {}
  for k, v in next, t do rawset(shadow, k, v) end
  for k in next, shadow do rawset(t, k, nil) end
  frozen[t] = shadow
  local mt = {
    __index = shadow, __newindex = refuse_write, __frozen = shadow,
    __len = C.frozen_len,   -- the one __len the table library trusts (engine.c)
    __pairs = function(self) return frozen_next, self, nil end,
    __metatable = "frozen",   -- protected; the sandbox's getmetatable gives __origin if frozen
    __origin = old or false,
  }
  if old then
    frozen_mt[t] = old
    -- The rule's own metamethods stay, and are handed the frozen table:
    -- the shadow has no metatable, so none of them ever sees it.  They are
    -- read from the metatable's contents: it may be frozen already (a class
    -- whose __index is itself), or be T itself, emptied above.
    local src = frozen[old] or old
    if rawget(src, "__gc") ~= nil then
      error("a table it reaches has a metatable with __gc: a finalizer would run during some later request", 0)
    end
    for k, v in next, src do
      if not FROZEN_OWN[k] then rawset(mt, k, v) end
    end
    local index = rawget(src, "__index")
    if index ~= nil then
      mt.__index = function(self, k)
        local v = rawget(shadow, k)
        if v ~= nil then return v end
        if type(index) == "function" then return index(self, k) end
        return index[k]
      end
    end
    local len = rawget(src, "__len")
    if len ~= nil then mt.__len = len end
    -- A __pairs of the rule's own walks as it says (order.c's pairs).
    mt.__ownpairs = rawget(src, "__pairs")
  end
  -- T may be a metatable: a class whose instances a check makes.  Lua reads
  -- a metatable raw, and T's contents are in the shadow now, so the
  -- instances would have no metamethods.  T's twin holds them: the
  -- sandbox's setmetatable sets it in T's place, and its getmetatable gives
  -- T back (bindings.c, from C.twins, which no rule reaches).  (No __gc or
  -- __mode: a finalizer or a weak table would run on the clock.)
  local twin
  for k, v in next, shadow do
    if type(k) == "string" and string_sub(k, 1, 2) == "__" and k ~= "__gc" and k ~= "__mode" then
      twin = twin or {}
      rawset(twin, k, v)
    end
  end
  if twin then
    rawset(C.twins, t, twin)
    rawset(C.twinned, twin, t)
  end
  debug_setmetatable(t, mt)
  return t
end

-- The keys of T in one order: numbers, strings, false, true, then any
-- others as next gives them.  The sealer walks in it, so that the locals
-- it watches come in the same order in every run, and so does the one a
-- rule_error names when a request changed several.
local KEY_RANK = { number = 1, string = 2, boolean = 3 }
local function key_before(a, b)
  local ra, rb = KEY_RANK[type(a)], KEY_RANK[type(b)]
  if ra ~= rb then return ra < rb end
  if ra == 3 then return not a and b end
  return a < b
end
local function sorted_keys(t)
  local keys, rest = {}, {}
  for k in next, t do
    if KEY_RANK[type(k)] then keys[#keys + 1] = k else rest[#rest + 1] = k end
  end
  table_sort(keys, key_before)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys
end

-- Walk everything reachable from V: freeze tables, watch plain upvalues.
local function seal_value(v, seen, owner)
  local tv = type(v)
  if tv == "table" then
    if seen[v] then return end
    seen[v] = true
    local contents = frozen[v] or v
    for _, k in ipairs(sorted_keys(contents)) do
      seal_value(k, seen, owner)
      seal_value(rawget(contents, k), seen, owner)
    end
    local mt = not frozen[v] and debug_getmetatable(v)   -- its metamethods run rule code too
    if mt and rawget(mt, "__gc") ~= nil then
      error((owner or "") .. "a table it reaches has a metatable with __gc (set after setmetatable, "
        .. "which refuses one): its finalizer would run during some later request", 0)
    end
    if mt then for _, k in ipairs(sorted_keys(mt)) do seal_value(rawget(mt, k), seen, owner) end end
    freeze(v)
  elseif tv == "function" then
    if seen[v] then return end
    seen[v] = true
    local info = debug_getinfo(v, "S")
    -- C, or the engine's own (a declaration, a helper a file keeps in a
    -- local): what those close over is the engine's, which moves on by
    -- design (the request being decided, whether the set is sealed), and
    -- which no rule can reach through them.
    if info.what == "C" or info.source == "=rules.lua" then return end
    for i = 1, 255 do
      local name, x = debug_getupvalue(v, i)
      if not name then break end
      -- Every upvalue is watched (a table or a function by identity: one
      -- assigned another would carry a value to the next request), and what
      -- it holds sealed; the file's own environment is read-only already.
      if (type(x) == "table" or type(x) == "function") and not (name == "_ENV" and envs[x]) then
        seal_value(x, seen, owner)
      end
      local id = debug_upvalueid(v, i)
      if not watched_ids[id] then   -- one look a cell, however many closures share it
        watched_ids[id] = true
        watched[#watched + 1] = { f = v, i = i, value = x, name = name, owner = owner,
          where = string_format("%s:%d", info.short_src, info.linedefined),
          file = info.short_src, line = info.linedefined }
        local n = 3 * (#watched - 1)   -- not #watched_flat: a value may be nil
        watched_flat[n + 1], watched_flat[n + 2], watched_flat[n + 3] = v, i, x
      end
    end
  end
end

-- The sandbox ---------------------------------------------------------------

local function copy_lib(lib, leave_out)
  local t = {}
  for k, v in pairs(lib) do if not (leave_out and leave_out[k]) then t[k] = v end end
  return t
end

-- A rule's own pcall must not swallow the engine's signals: missing data;
-- earlier decisions that could not be read (the history provider failed:
-- eligo's trouble, not the rule's, and a rule that caught it would decide as
-- if the applicant had no past); and running out of memory under the cap
-- (Lua's own message for it), which a rule that caught it and tried again
-- would pay for with a full collection each time, unseen by the instruction
-- budget.
local MISSING = { __metatable = "missing data" }   -- compared raw: rules see only the name
local UNREADABLE = { __metatable = "earlier decisions unreadable" }
local OUT_OF_MEMORY = "not enough memory"
-- What the engine gives rules.lua (engine.c sets its functions).
local api = {}
-- Whether error E is the memory cap's: Lua's message, and the engine did
-- refuse a block.  A rule's own error("not enough memory") is its error.
local function out_of_memory(e)
  return e == OUT_OF_MEMORY and (api.refused == nil or api.refused())
end

local current = { as_of = nil, params = nil }   -- the evaluation in progress

-- A signal is also kept in current.signal until the criterion's end
-- (decision.c takes it there): the __close handler of a to-be-closed
-- variable may raise on the way out, and its error then replaces the signal
-- in the pcall that would have passed it on.
local function signal(obj)
  current.signal = obj
  error(obj, 0)
end
local function is_signal(e)
  local mt = debug_getmetatable(e)
  return mt == MISSING or mt == UNREADABLE
end
local function pass_through(ok, ...)
  if not ok then
    local s = current.signal
    if s ~= nil then error(s, 0) end
    if is_signal((...)) or out_of_memory((...)) then error((...), 0) end
  end
  return ok, ...
end

local sandbox = {
  assert = assert, error = error, ipairs = ipairs, select = select,
  tonumber = tonumber, type = type, rawequal = rawequal,
  tostring = C.tostring,   -- refuses to write an address (bindings.c), as string.format below
  pcall = function(f, ...) return pass_through(pcall(f, ...)) end,
  xpcall = function(f, h, ...)
    return pass_through(xpcall(f, function(e)
      if is_signal(e) then return e end
      -- Once the budget or the time limit has stopped the call, the error
      -- comes from inside the instruction hook, where Lua runs this handler
      -- with hooks off: the rule's handler would run unbudgeted, unclocked,
      -- and a loop in it would hold the worker for ever.
      if api.stopped ~= nil and api.stopped() then return e end
      return h(e)
    end, ...))
  end,
  getmetatable = C.getmetatable, setmetatable = C.setmetatable,   -- frozen classes, no finalizers (bindings.c)
  _VERSION = _VERSION,
  -- Lua patterns run inside one C call, out of reach of the instruction
  -- budget, and some take exponential time: rules get plain find only.
  string = copy_lib(string, { dump = true, match = true, gmatch = true, gsub = true, find = true }),
  table = copy_lib(table),
  math = copy_lib(math, { random = true, randomseed = true }),
  utf8 = copy_lib(utf8),
}
-- A name the sandbox does not have is an error, not a silent nil: rules
-- learn at once that io or os are not theirs, and typos do not pass.
-- The test files' own names, met in a rule file, most likely mean a test
-- file misnamed (x_test.lua): said so.
local TEST_NAMES = { case = true, with = true, absent = true, null = true }
setmetatable(sandbox, { __index = function(_, k)
  if TEST_NAMES[k] then
    error(string_format("'%s' is not available to rules: it belongs to test files, which are named NAME.test.lua", tostring(k)), 2)
  end
  -- A check's own arguments, left out of its function(...): not the sandbox's.
  local hint = (k == "on" or k == "a") and string_format(
    "; if it is the check's %s, name it among the check's arguments: check = function(a, on)",
    k == "on" and "decision date" or "applicant") or ""
  error(string_format("'%s' is not available to rules (the sandbox allows the rule language, string, table, math, utf8 and safe base functions)%s", tostring(k), hint), 2)
end })

-- Library functions that work through their arguments in C, out of the
-- instruction hook's sight, pay for that work in instructions first
-- (engine.c, engine_charged): table.sort, insert, remove, move, unpack and
-- concat, string.rep, byte and find, utf8.len, offset and codepoint.  The
-- find is plain: Lua patterns run inside one C call, and some take
-- exponential time.
for lib, fns in pairs({ string = C.charged.string, table = C.charged.table, utf8 = C.charged.utf8 }) do
  for name, f in pairs(fns) do sandbox[lib][name] = f end
end
sandbox.tonumber = C.charged._G.tonumber   -- reads its text whole, as arithmetic on strings does
-- pairs and next walk a table's keys in one order, the same in every run,
-- and through a frozen table or an applicant's record to its contents
-- (their metatable's __frozen); sort is stable.  Each pays for its work
-- (order.c).
sandbox.pairs, sandbox.next, sandbox.table.sort = C.pairs, C.next, C.sort
sandbox.string.format = C.string_format

-- Methods on strings ("x"):upper() go through the string metatable: point it
-- at the sandbox's copy, so that dump and patterns are out of reach that way
-- too, and protect the metatable itself.
string.dump = nil
-- Every rule file shares these copies: frozen before the first file runs.
for _, lib in ipairs({ sandbox.string, sandbox.table, sandbox.math, sandbox.utf8 }) do freeze(lib) end
local string_mt = getmetatable("")
for name, f in pairs(C.charged.string_mt) do string_mt[name] = f end   -- "1" + 1, paid for
string_mt.__index = sandbox.string
string_mt.__metatable = "string"

-- Types of the schema -------------------------------------------------------

local TYPE = { __metatable = "type" }   -- shared by every schema type: not the rules' to change
local function is_type(t) return debug_getmetatable(t) == TYPE end
local function mk_type(t) return setmetatable(t, TYPE) end

local SCALARS = { text = true, date = true, boolean = true, integer = true, number = true, money = true }

local function to_type(t, level)
  if is_type(t) then return t end
  if type(t) == "string" and SCALARS[t] then return mk_type({ kind = t }) end
  decl_error(level + 1, "unknown type %s (expected one of text, date, boolean, integer, number, money, or enum/list/record/nullable)", tostring(t))
end

function sandbox.enum(values)
  if type(values) == "string" then
    return mk_type({ kind = "enum", scale = values })
  end
  if type(values) ~= "table" or #values == 0 then decl_error(2, "enum expects a list of values or a scale name") end
  local set, list = {}, {}
  local file, line = caller(2)
  for i, v in ipairs(values) do
    check_utf8(file, line, string_format("value %d of an enum", i), v)
    set[v] = true
    list[i] = v
  end
  local labels = rawget(values, "labels")
  return mk_type({ kind = "enum", values = list, set = set, labels = labels, file = file, line = line })
end
function sandbox.nullable(t) local r = { kind = "nullable", of = to_type(t, 2) }; return mk_type(r) end
function sandbox.list(t) return mk_type({ kind = "list", of = to_type(t, 2) }) end
-- A record type of FIELDS, declared at FILE:LINE (an error names the field).
local function record_of(fields, file, line)
  if type(fields) ~= "table" then
    error(string_format("%s:%d: record expects a table of field = type", file, line), 0)
  end
  local r = { kind = "record", fields = {}, names = {} }
  -- In the order of the names: of two bad fields, the same one is reported
  -- in every run (pairs follows the string hashes, seeded from the clock).
  for _, name in ipairs(sorted_keys(fields)) do
    local t = fields[name]
    if type(name) ~= "string" then
      error(string_format("%s:%d: a field's name must be a text: field = type, not [%s] = ...", file, line, tostring(name)), 0)
    end
    if not (is_type(t) or (type(t) == "string" and SCALARS[t])) then
      error(string_format("%s:%d: field '%s': unknown type %s (expected one of text, date, boolean, integer, number, money, or enum/list/record/nullable)",
        file, line, tostring(name), type(t) == "string" and ("'" .. t .. "'") or tostring(t)), 0)
    end
    r.fields[name] = to_type(t, 2)
    r.names[#r.names + 1] = name
  end
  return mk_type(r)
end

function sandbox.record(fields)
  return record_of(fields, caller(2))
end

-- Reading an applicant -------------------------------------------------------
-- A record's metatable answers the fields the table does not have: null
-- (kept in a hidden set) reads as nil, a declared but absent field raises
-- the missing-data signal, an undeclared one is a rule error.

local NULLS = setmetatable({}, { __mode = "k" })   -- record table -> { field = true }

local record_mts = {}   -- record type -> its place (path prefix) -> the metatable of its values (prepare)
local function record_mt(rtype, path)
  return {
    __index = function(t, k)
      local nulls = NULLS[t]
      if nulls and nulls[k] then return nil end
      if rtype.fields[k] == nil then
        error(string_format("field '%s%s' is not declared in the schema", path, tostring(k)), 2)
      end
      signal(setmetatable({ field = path .. k }, MISSING))
    end,
    __metatable = "applicant record",   -- shared by every request: not the rules' to change
    __fields = rtype.fields,            -- (known)
  }
end


local function describe(v)
  if v == null then return "null" end
  local tv = type(v)
  if tv == "string" then return string_format("the string \"%s\"", #v > 40 and string_sub(v, 1, 40) .. "..." or v) end
  if tv == "table" then return debug_getmetatable(v) == ARRAY and "a list" or "an object" end
  if tv == "number" then
    if v % 1 == 0 then return "the number " .. c_format(v) end
    for digits = 15, 17 do   -- as it came: the shortest text that reads back exactly
      local text = string_format("%." .. digits .. "g", v)
      if tonumber(text) == v or digits == 17 then return "the number " .. text end
    end
  end
  return tv == "boolean" and ("the boolean " .. tostring(v)) or tv
end


local prepare -- forward

local function bad_field(path, expected, v)
  fail("invalid_applicant", "field '%s': expected %s, got %s", path, expected, describe(v))
end

-- integer { min = 1 }, integer { min = 0, max = 99 }: a whole number within
-- bounds, so that an impossible value (a household of 0) is refused as the
-- applicant's, naming the field, and never decided on.
function sandbox.integer(bounds)
  if type(bounds) ~= "table" or getmetatable(bounds) ~= nil then
    decl_error(2, "integer expects its bounds: integer { min = 1 }, integer { min = 0, max = 99 }")
  end
  for _, k in ipairs(sorted_keys(bounds)) do   -- of two, the same one named in every run
    if k ~= "min" and k ~= "max" then decl_error(2, "integer: unknown bound '%s' (min, max)", tostring(k)) end
  end
  local min, max = rawget(bounds, "min"), rawget(bounds, "max")
  -- 20.0 is the whole number 20, as an applicant's 20.0 is.
  min, max = math_type(min) == "float" and math_tointeger(min) or min, math_type(max) == "float" and math_tointeger(max) or max
  for _, bound in ipairs({ { "min", min }, { "max", max } }) do   -- min first, in every run
    local name, b = bound[1], bound[2]
    if b ~= nil and (math_type(b) ~= "integer" or b <= -2^53 or b >= 2^53) then
      decl_error(2, "integer: %s must be a whole number below 2^53 in size, not %s", name, describe(b))
    end
  end
  if min == nil and max == nil then decl_error(2, "integer: give min, max or both") end
  if min and max and min > max then decl_error(2, "integer: min %d is above max %d", min, max) end
  return mk_type({ kind = "integer", min = min, max = max })
end

-- What a field of each kind must be, said as its refusals say it.
local KIND_TEXT = {
  text = "text", date = "a date (YYYY-MM-DD)", boolean = "true or false", integer = "a whole number",
  number = "a number", money = "an amount of MAD, not negative, with at most two decimals",
  enum = "one of the allowed values", list = "a list", record = "an object",
}

-- What a value of type T must be, as its refusals say it: an enum's values
-- and an integer's bounds named, also to a null.
local function expected(t)
  local kind = t.kind
  if kind == "enum" then return "one of " .. table_concat(t.values or scales[t.scale], ", ") end
  if kind == "integer" and (t.min or t.max) then
    return not t.max and string_format("a whole number of at least %d", t.min)
      or not t.min and string_format("a whole number of at most %d", t.max)
      or string_format("a whole number from %d to %d", t.min, t.max)
  end
  return KIND_TEXT[kind] or ("a " .. tostring(kind))
end

-- Check V against type T (at PATH) and return the value rules will see.
prepare = function(v, t, path)
  local kind = t.kind
  if v == null then
    if kind == "nullable" then return nil end
    bad_field(path, expected(t), v)
  end
  if kind == "nullable" then return prepare(v, t.of, path) end
  if kind == "text" then
    if type(v) ~= "string" then bad_field(path, "text", v) end
    return c_nfc(v)   -- compared composed, however it came (bindings_push_nfc)
  elseif kind == "date" then
    if type(v) ~= "string" then bad_field(path, "a date (YYYY-MM-DD)", v) end
    if not c_parse_date(v) then
      fail("invalid_applicant", "field '%s': '%s' is not a valid date (YYYY-MM-DD)", path, v)
    end
  elseif kind == "boolean" then
    if type(v) ~= "boolean" then bad_field(path, "true or false", v) end
  elseif kind == "integer" then
    local i = type(v) == "number" and math_tointeger(v)
    if i and (i <= -2^53 or i >= 2^53) then i = nil end   -- a double cannot tell them apart
    if not i then
      bad_field(path, type(v) == "number" and v % 1 == 0 and "a whole number below 2^53 in size" or "a whole number", v)
    end
    if (t.min and i < t.min) or (t.max and i > t.max) then bad_field(path, expected(t), v) end
    return i
  elseif kind == "number" then
    if type(v) ~= "number" then bad_field(path, "a number", v) end
  elseif kind == "money" then
    if type(v) ~= "number" or v < 0 or not pcall(c_cents, v) then
      bad_field(path, type(v) == "number" and v > 1e13 and "an amount of MAD of at most 10000000000000"
        or "an amount of MAD, not negative, with at most two decimals", v)
    end
    return math_tointeger(v) or v
  elseif kind == "enum" then
    local set = t.set or scales[t.scale].rank
    local text = type(v) == "string" and c_nfc(v)
    if not text or not set[text] then bad_field(path, expected(t), v) end
    return text
  elseif kind == "list" then
    if type(v) ~= "table" or debug_getmetatable(v) ~= ARRAY then bad_field(path, "a list", v) end
    for i = 1, #v do v[i] = prepare(v[i], t.of, path .. "[" .. i .. "]") end
  elseif kind == "record" then
    if type(v) ~= "table" or getmetatable(v) ~= nil then bad_field(path, "an object", v) end
    local prefix = path == "" and "" or path .. "."
    local nulls
    for _, name in ipairs(t.names) do
      local x = rawget(v, name)
      if x ~= nil then
        if x == null then
          if t.fields[name].kind ~= "nullable" then prepare(x, t.fields[name], prefix .. name) end
          nulls = nulls or {}
          nulls[name] = true
          v[name] = nil
        else
          v[name] = prepare(x, t.fields[name], prefix .. name)
        end
      end
    end
    -- A field the schema does not declare is no rule's to read (applicant.c).
    for k in next, v do
      if t.fields[k] == nil then v[k] = nil end
    end
    if nulls then NULLS[v] = nulls end
    -- One for every element, kept here: the type may be frozen (a rule
    -- file that keeps it in a local).  By type and place: one type given
    -- to two fields names the field of each (applicant.c keeps one per node).
    local at = (string_gsub(prefix, "%[%d+%]", ""))
    local by_place = record_mts[t]
    if not by_place then by_place = {}; record_mts[t] = by_place end
    local mt = by_place[at]
    if not mt then
      mt = record_mt(t, at)
      by_place[at] = mt
    end
    setmetatable(v, mt)
  end
  return v
end

-- The same, in C (applicant.c), for every request: it calls the prepare
-- above on any value that does not pass, to raise its error.
-- c_fuse reads a request line straight into the prepared applicant
-- (request.c tries it first).
local c_prepare, c_fuse = C.preparer(prepare, record_mt, ARRAY, NULLS, scales)

-- Declarations ----------------------------------------------------------------
-- A problem of TEXTS names the line of KEY in the declaration KIND "ID" at LINE (key_line).
local function check_texts(what, texts, file, line, required, kind, id, key)
  if texts == nil then
    if required then problem(file, line, "%s has no text", what) end
    return
  end
  local function at() line = key and key_line(file, line, kind, id, key) or line; key = nil; return line end
  if type(texts) ~= "table" then problem(file, at(), "%s: texts must be a table { en = ..., fr = ..., ar = ... }", what); return end
  for _, lang in ipairs(LANGS) do
    if type(texts[lang]) ~= "string" or texts[lang] == "" then
      problem(file, at(), "%s has no %s text", what, lang)
    end
  end
  -- In the order of the keys: several are reported in one order in every run.
  local contents = frozen[texts] or texts
  for _, lang in ipairs(sorted_keys(contents)) do
    local text = rawget(contents, lang)
    local named = type(lang) == "string" and not c_utf8_bad(lang)
    check_utf8(file, line, named and string_format("%s in '%s'", what, lang) or what, text)
    -- A text under another key (`AR`, `de`, an item without a key) is read
    -- by no request: --lang and a request's lang take only these three.
    -- A key is quoted only when it is UTF-8 text, as above: the problem
    -- is logged, and a rejected reload's stored, as text.
    if not LANG_OK[lang] then
      problem(file, at(), "%s has a text under %s, which is not a language eligo writes (en, fr, ar): no one would read it",
        what, named and string_format("the key '%s'", lang)
          or type(lang) == "string" and "a key that is not UTF-8 text"
          or string_format("the key [%s]", tostring(lang)))
    end
  end
end

-- Declarations belong to loading: made while deciding, they would change
-- the set every later request uses.
local function declaring(what)
  if sealed then
    error(string_format("%s can only be declared while the rule files load, not while deciding%s", what,
      what == "a parameter" and " (a check reads a parameter's value with param \"name\")" or ""), 3)
  end
end

function sandbox.scale(name)
  declaring("a scale")
  local file, line = caller(2)
  return function(values)
    declaring("a scale")
    if scales[name] then decl_error(2, "scale '%s' is declared twice", name) end
    if type(values) ~= "table" or #values == 0 then decl_error(2, "scale '%s' needs a list of values", name) end
    local s = { rank = {}, file = file, line = line }
    check_utf8(file, line, "a scale name", name)
    -- A level given twice ranks where it came last ({ "none", "bac", "none" } puts none
    -- above bac), one that is not a text can never be compared, and a key beside the list
    -- is dropped: each is a problem.  (Ranks stay as they were: a set stored with one replays.)
    for i, v in ipairs(values) do
      check_utf8(file, line, string_format("value %d of scale '%s'", i, name), v)
      if type(v) ~= "string" then
        problem(file, line, "scale '%s': level %d is %s, expected a text", name, i, describe(v))
      elseif s.rank[v] then
        problem(file, line, "scale '%s': level %d, '%s', is level %d already: a level is given once, in its place", name, i, v, s.rank[v])
      end
      s[i] = v; s.rank[v] = i
    end
    -- In the order of the keys (numbers before texts): [50] and '50' are
    -- reported in one order in every run.
    local n, odd = rawlen(values), {}
    for _, k in ipairs(sorted_keys(values)) do
      if not (math_type(k) == "integer" and k >= 1 and k <= n) and k ~= "labels" then odd[#odd + 1] = k end
    end
    s.labels = rawget(values, "labels")
    for _, k in ipairs(odd) do
      problem(file, line, "scale '%s': key %s is not a level (a scale is a list of its levels, lowest first)",
        name, type(k) == "string" and string_format("'%s'", k) or string_format("[%s]", tostring(k)))
    end
    scales[name] = s
  end
end

function sandbox.schema(fields)
  declaring("the schema")
  local file, line = caller(2)
  if schema then decl_error(2, "the schema is declared twice (first at %s:%d)", schema_at[1], schema_at[2]) end
  schema = record_of(fields, file, line)
  schema_at = { file, line }
  -- A bound to the decision date holds for the applicant's own fields; in
  -- a record or a list it would not be checked, so it is refused there.
  local function nested(t, path)
    if t.kind == "nullable" or t.kind == "list" then return nested(t.of, path) end
    if t.not_after_as_of then
      error(string_format("%s:%d: date { not_after = \"as_of\" } is for a field of the applicant itself, not %s",
        file, line, path), 0)
    end
    if t.kind == "record" then
      for _, name in ipairs(t.names) do nested(t.fields[name], path .. "." .. name) end
    end
  end
  for _, name in ipairs(schema.names) do
    local u = schema.fields[name]
    while u.kind == "nullable" do u = u.of end
    if u.not_after_as_of then
      DATE_BOUNDED[#DATE_BOUNDED + 1] = name
    elseif u.kind == "record" or u.kind == "list" then
      nested(u, name)
    end
  end
end

-- What is wrong with V as a date, WHAT naming it, or nil: written as one,
-- no day of the calendar (2025-02-30), or else not written as one.
local function date_fault(v, what)
  if type(v) == "string" and c_parse_date(v) then return nil end
  if type(v) == "string" and string_find(v, "^%d%d%d%d%-%d%d%-%d%d$") then
    return string_format("%s is %s, which is no day of the calendar", what, v)
  end
  return string_format("%s must be a date YYYY-MM-DD, got %s", what, type(v) == "string" and v or describe(v))
end

-- Its error names KEY's line in the declaration KIND "ID" at FILE's LINE (key_line), or LINE.
local function check_date(v, what, file, line, kind, id, key, n)
  local fault = date_fault(v, what)
  if fault then error(string_format("%s:%d: %s", file, key_line(file, line, kind, id, key, n) or line, fault), 0) end
  return v
end

local CRITERION_TAG = { __metatable = "criterion" }   -- shared by every criterion: not the rules' to change

-- A declaration may hold only the keys it knows (KNOWN, listed in KNOWN_TEXT)
-- and, when it is a LIST, entries 1..n: a misspelt `untill` or `fial` would
-- otherwise be dropped without a word.  Each other key is a problem of WHAT.
local function unknown_keys(spec, known, known_text, what, file, line, list)
  -- In the order of the keys (numbers before texts): [50] and '50' are
  -- reported in one order in every run.
  local n, odd = list and rawlen(spec) or 0, {}
  for _, k in ipairs(sorted_keys(spec)) do
    if not (known[k] or (math_type(k) == "integer" and k >= 1 and k <= n)) then odd[#odd + 1] = k end
  end
  for _, k in ipairs(odd) do
    local key = type(k) == "string" and string_format("'%s'", k) or string_format("[%s]", tostring(k))
    local v = rawget(spec, k)
    if debug_getmetatable(v) == CRITERION_TAG then
      problem(file, line, "%s: criterion '%s' is given under the key %s, where it is not read: list criteria without keys",
        what, v.id, key)
    else
      problem(file, line, "%s: unknown key %s (it knows %s)", what, key, known_text)
    end
  end
end

local function key_set(list)
  local set = {}
  for _, k in ipairs(list) do set[k] = true end
  return set, table_concat(list, ", ")
end
-- The keys each kind of declaration knows, and their list as text for a message:
-- KEYS.program and KEYS.program_text, ...  (One table: the main chunk is near
-- Lua's limit of 200 locals.)
local KEYS = {}
KEYS.program, KEYS.program_text = key_set({ "version", "from", "to", "title", "reference" })
KEYS.criterion, KEYS.criterion_text = key_set({ "text", "pass", "fail", "reference", "check" })
KEYS.parameter, KEYS.parameter_text = key_set({ "reference" })
KEYS.value, KEYS.value_text = key_set({ "from", "to", "value", "reference" })

function sandbox.parameter(name)
  declaring("a parameter")
  local file, line = caller(2)
  check_utf8(file, line, "a parameter name", name)
  check_no_nul(file, line, "a parameter name", name)   -- it is a key of explanations
  return function(spec)
    declaring("a parameter")
    if type(spec) ~= "table" then decl_error(2, "parameter '%s' needs a table", name) end
    if params[name] then
      decl_error(2, "parameter '%s' is declared twice (first at %s:%d)", name, params[name].file, params[name].line)
    end
    check_utf8(file, line, string_format("parameter '%s' reference", name), spec.reference)
    local p = { name = name, reference = spec.reference, file = file, line = line, values = {} }
    if type(spec.reference) ~= "string" then problem(file, line, "parameter '%s' has no reference", name) end
    unknown_keys(spec, KEYS.parameter, KEYS.parameter_text .. " and its dated values", string_format("parameter '%s'", name), file, line, true)
    for i, v in ipairs(spec) do
      if type(v) ~= "table" then decl_error(2, "parameter '%s': value %d needs { from = ..., value = ... }", name, i) end
      unknown_keys(v, KEYS.value, KEYS.value_text, string_format("parameter '%s' value %d", name, i), file, line)
      if v.value == nil then decl_error(2, "parameter '%s': value %d has no 'value' ({ from = ..., value = ... })", name, i) end
      if v.from == nil then problem(file, line, "parameter '%s': value %d has no 'from' date", name, i) end
      check_utf8(file, line, string_format("parameter '%s' value %d", name, i), v.value)
      -- Decisions record the values they read, and explanations list them.
      local encodable, why = pcall(c_canon, v.value)
      if not encodable then
        if out_of_memory(why) then error(why, 0) end
        decl_error(2, "parameter '%s': value %d has no JSON form (%s)", name, i, tostring(why))
      end
      if type(v.value) == "table" then   -- its texts and keys, as decisions will write them
        check_utf8(file, line, string_format("parameter '%s' value %d, as JSON,", name, i), why)
      end
      check_utf8(file, line, string_format("parameter '%s' value %d reference", name, i), v.reference)
      local what = string_format("parameter '%s': value %d's", name, i)
      p.values[i] = { from = check_date(v.from or "0001-01-01", what .. " from", file, line, "parameter", name, "from", i),
        to = v.to and check_date(v.to, what .. " to", file, line, "parameter", name, "to", i), value = v.value, reference = v.reference or spec.reference, n = i }
      if p.values[i].to and p.values[i].to < p.values[i].from then
        problem(file, line, "parameter '%s': value %d is never in force: its 'to' %s is before its 'from' %s",
          name, i, p.values[i].to, p.values[i].from)
      end
    end
    if #p.values == 0 then decl_error(2, "parameter '%s' has no value", name) end
    -- A rule reads whichever is in force the same way: a 50 that became "50" would fail
    -- every decision from its date.  In tables, values under keys both have (a key may come or go).
    local function unlike(a, b, path)
      if type(a) ~= type(b) then return path, a, b end
      if type(a) ~= "table" then return nil end
      for _, k in ipairs(sorted_keys(a)) do   -- of two differences, the same one named in every run
        local x = rawget(a, k)
        if b[k] ~= nil then
          local at, p1, p2 = unlike(x, b[k], path .. "." .. tostring(k))
          if at then return at, p1, p2 end
        end
      end
    end
    for i = 2, #p.values do
      local at, first, other = unlike(p.values[1].value, p.values[i].value, "")
      if at then
        problem(file, line, "parameter '%s': value %d%s is %s, but value 1%s is %s: a rule reads every value the same way",
          name, i, at, describe(other), at, describe(first))
      end
    end
    table_sort(p.values, function(a, b) return a.from < b.from end)
    for i = 2, #p.values do
      local prev, cur = p.values[i - 1], p.values[i]
      if prev.from == cur.from or (prev.to and prev.to >= cur.from) then
        problem(file, line, "parameter '%s': values from %s and from %s overlap", name, prev.from, cur.from)
      end
    end
    params[name] = p
  end
end

function sandbox.criterion(id)
  declaring("a criterion")
  local file, line = caller(2)
  if type(id) ~= "string" or id == "" then decl_error(2, "a criterion needs an id") end
  check_utf8(file, line, "a criterion id", id)
  check_no_nul(file, line, "a criterion id", id)
  return function(spec)
    declaring("a criterion")   -- its checks would add to the problems found, without end
    if type(spec) ~= "table" then decl_error(2, "criterion '%s' needs a table", id) end
    if type(spec.check) ~= "function" then decl_error(2, "criterion '%s' has no check function", id) end
    unknown_keys(spec, KEYS.criterion, KEYS.criterion_text, string_format("criterion '%s'", id), file, line)
    return setmetatable({ id = id, text = spec.text, pass = spec.pass, fail = spec.fail,
      reference = spec.reference, check = spec.check, file = file, line = line }, CRITERION_TAG)
  end
end

function sandbox.program(id)
  declaring("a programme")
  local file, line = caller(2)
  if type(id) ~= "string" or id == "" then decl_error(2, "a programme needs an id") end
  check_utf8(file, line, "a programme id", id)
  check_no_nul(file, line, "a programme id", id)
  return function(spec)
    declaring("a programme")
    if type(spec) ~= "table" then decl_error(2, "programme '%s' needs a table", id) end
    unknown_keys(spec, KEYS.program, KEYS.program_text .. " and its criteria", string_format("programme '%s'", id), file, line, true)
    local p = { id = id, title = spec.title, version = spec.version, from = spec.from, to = spec.to,
      reference = spec.reference, file = file, line = line, criteria = {}, by_id = {} }
    if type(p.version) ~= "string" and type(p.version) ~= "number" then
      decl_error(2, "programme '%s' has no version", id)
    end
    -- 2025.10 would read 2025.1.  A problem for check (and so for serve),
    -- not a load error: a set already stored with one must still replay.
    if math_type(p.version) == "float" then
      problem(file, line, "programme '%s': version %s is a number with a fraction, which loses trailing zeros (2025.10 reads as 2025.1): write it as text, in quotes",
        id, tostring(p.version))
    end
    p.version = tostring(p.version)
    check_utf8(file, line, string_format("programme '%s' version", id), p.version)
    check_no_nul(file, line, string_format("programme '%s' version", id), p.version)
    check_utf8(file, line, string_format("programme '%s' reference", id), p.reference)
    if p.from == nil then   -- reported once here; lint then leaves its parameters alone
      problem(file, line, "programme '%s' %s has no 'from' date", id, p.version)
      p.no_from = true
    end
    p.from = check_date(p.from or "0001-01-01", string_format("programme '%s' %s's from", id, p.version), file, line, "program", id, "from")
    if p.to ~= nil then p.to = check_date(p.to, string_format("programme '%s' %s's to", id, p.version), file, line, "program", id, "to") end
    p.from_day, p.to_day = c_parse_date(p.from), p.to and c_parse_date(p.to)   -- compared as numbers
    if type(p.reference) ~= "string" then problem(file, line, "programme '%s' has no reference", id) end
    check_texts(string_format("programme '%s' title", id), p.title, file, line, true, "program", id, "title")
    for _, c in ipairs(spec) do
      if debug_getmetatable(c) ~= CRITERION_TAG then decl_error(2, "programme '%s': list entries must be criteria", id) end
      if p.by_id[c.id] then
        problem(c.file, c.line, "criterion '%s' is declared twice in programme '%s' (first at line %d)", c.id, id, p.by_id[c.id].line)
      else
        p.by_id[c.id] = c
        p.criteria[#p.criteria + 1] = c
        check_texts(string_format("criterion '%s'", c.id), c.text, c.file, c.line, true, "criterion", c.id, "text")
        if c.fail ~= nil then check_texts(string_format("criterion '%s' fail message", c.id), c.fail, c.file, c.line, nil, "criterion", c.id, "fail") end
        if c.pass ~= nil then check_texts(string_format("criterion '%s' pass message", c.id), c.pass, c.file, c.line, nil, "criterion", c.id, "pass") end
        if type(c.reference) ~= "string" then problem(c.file, c.line, "criterion '%s' has no reference", c.id) end
        check_utf8(c.file, c.line, string_format("criterion '%s' reference", c.id), c.reference)
      end
    end
    if #p.criteria == 0 then problem(file, line, "programme '%s' has no criteria", id) end
    local versions = programs[id]
    if not versions then
      for _, other in ipairs(program_order) do   -- one programme per file
        local q = programs[other][1]
        if q.file == file then
          problem(file, line, "programme '%s' is declared in %s beside programme '%s' (line %d): "
            .. "one programme per file", id, file, other, q.line)
          break
        end
      end
      versions = {}
      programs[id] = versions
      program_order[#program_order + 1] = id
    end
    for _, q in ipairs(versions) do
      if q.file ~= file then
        decl_error(2, "programme '%s' is also declared in %s (one programme per file)", id, q.file)
      end
      if q.version == p.version then decl_error(2, "programme '%s' version %s is declared twice", id, p.version) end
      local p_to, q_to = p.to or "9999-12-31", q.to or "9999-12-31"
      if p.from <= q_to and q.from <= p_to then
        problem(file, line, "programme '%s': versions %s and %s are both in force from %s", id, q.version, p.version,
          p.from > q.from and p.from or q.from)
      end
    end
    versions[#versions + 1] = p
    table_sort(versions, function(a, b) return a.from < b.from end)
  end
end

-- Helpers rules call -----------------------------------------------------------


-- param(name): the value of a parameter in force on current.as_of, recorded
-- for "parameters" (in C, or current.params); decision.c, with the loop below.

sandbox.age = C.age
sandbox.months_between = C.months_between
sandbox.months_before = C.months_before
sandbox.cents = c_cents

-- Raise "HELPER: MSG" at the line of the rule that called HELPER, the
-- function calling this.  Called as `return helper(...)` (a tail call), the
-- helper has no caller left, and Lua keeps no line for it: the message
-- says so, as the line it then shows is the criterion's.
local function helper_error(helper, msg)
  local t = debug_getinfo(2, "t")
  if t and t.istailcall then
    msg = string_format("%s (in a `return %s(...)`, whose line Lua does not keep)", msg, helper)
  end
  error(helper .. ": " .. msg, 3)
end

-- date(s): S when it is a valid date.  In the schema, date { not_after =
-- "as_of" } is the type of a date that cannot be later than the decision
-- date (a birth date): an application giving a later one is refused as
-- invalid_applicant, naming the field, not decided on ("age -3").  For the
-- applicant's own fields (DATE_BOUNDED), checked by decide, once per
-- application.
function sandbox.date(s)
  if type(s) == "table" and not is_type(s) and getmetatable(s) == nil and not sealed then
    for _, k in ipairs(sorted_keys(s)) do   -- of two, the same one named in every run
      if k ~= "not_after" then decl_error(2, "date: unknown bound '%s' (not_after)", tostring(k)) end
    end
    if rawget(s, "not_after") ~= "as_of" then
      decl_error(2, "date: not_after is \"as_of\" (the decision date), not %s", describe(rawget(s, "not_after")))
    end
    return mk_type({ kind = "date", not_after_as_of = true })
  end
  if type(s) ~= "string" then
    helper_error("date", string_format("argument 1 is %s, expected a date", describe(s)))
  end
  if not c_parse_date(s) then
    helper_error("date", string_format("'%s' is not a valid date (YYYY-MM-DD)", s))
  end
  return s
end

-- A helper given the wrong kind of argument says so at the rule's line
-- (level 3: the rule that called the helper that called this).
local function bad_argument(helper, n, v, expected)   -- a tail call: the helper is level 2 still
  return helper_error(helper, string_format("argument %d is %s, expected %s", n, describe(v), expected))
end

-- known(record, "field"): whether the application gave FIELD of RECORD (an
-- applicant, or a record in it), a value or null, without making the
-- criterion missing when it did not.  A condition met by either of two
-- fields is met by one known to meet it, the other absent.
-- within(x, lo, hi): numbers, or dates.  A text that is not a date is
-- refused: compared as text, "abc" would lie within any two dates and
-- "2025-1-5" after "2025-01-31".
-- at_least(x, min, "scale"): X ranks at or above MIN on the scale.
-- benefit_within(list, program, months, on): the latest entry of LIST for
-- PROGRAM in the window of MONTHS before ON.
-- Done in C (bindings.c), as every criterion calls them: in Lua they ran
-- about as many instructions as the rules' own checks.  Each is called by a
-- Lua function here, whose frame tells the C one that it was called as
-- `return known(...)`, a tail call, for its error to say so as
-- helper_error's do; called directly, a C function could not tell.
do
  local c_known, c_within, c_at_least, c_benefit_within = C.helpers(NULLS, scales, describe)
  function sandbox.known(record, field) return c_known(record, field) end
  function sandbox.within(x, lo, hi) return c_within(x, lo, hi) end
  function sandbox.at_least(x, min, scale_name) return c_at_least(x, min, scale_name) end
  function sandbox.benefit_within(list, program, months, on) return c_benefit_within(list, program, months, on) end
end

-- is_in(x, set): whether X is one of the items of the list SET.  A table of
-- keys ({ MA = true }), or a list with a hole ({ "a", nil, "c" }), is
-- refused rather than looked through up to its first hole: either would
-- answer false for what the rule meant to be in it.  (The contents of a
-- frozen table or an applicant's list are in its metatable's __frozen.)
function sandbox.is_in(x, set)
  if type(set) ~= "table" then bad_argument("is_in", 2, set, "a list") end
  local found, n = c_is_in(x, set)
  if found == nil then
    helper_error("is_in", n == 0
      and "argument 2 is a table of keys, expected a list of the values ({ \"a\", \"b\" })"
      or string_format("argument 2 holds other keys than its items 1 to %d, expected a list of the values", n))
  end
  return found
end

-- The start of the window of decided_within (benefit_within's is found
-- the same way, in C), months_before(ON, MONTHS), MONTHS and ON being
-- arguments N and N + 1 of the helper; or nil and what is wrong, for the
-- helper to raise at its caller's line (months_before's own error would
-- name months_before, at a line of this file).
local function window_start(n, months, on)
  -- A negative number of months would put the window's start after ON, and
  -- nothing would ever be found in it.
  if type(months) ~= "number" or math_tointeger(months) == nil or months < 0 then
    return nil, string_format("argument %d is %s, expected a whole number of months, 0 or more", n, describe(months))
  end
  local after, why = c_window_start(on, months)
  if after then return after end
  return nil, why or string_format("argument %d is %s, expected a date", n + 1, describe(on))
end

-- History-aware rules.  earlier(a[, program]) gives the applicant's earlier
-- decisions held by eligo (engine.h: engine_history_fn), newest first, each
-- { decision_id, program, program_version, outcome, as_of, decided_at },
-- outcome where the decision stands (decision_outcome its own, when a review
-- overrode it), only those of PROGRAM when it is given.  They are fetched at most once per
-- request (or, in a replay, taken from what the original decision recorded)
-- and frozen.  A decision whose rules read some records exactly the rows they
-- were given ("history", in the order fetched), so that it can be replayed
-- exactly, and an applicant with a long past does not make every decision
-- carry all of it.
local NO_HISTORY = freeze(setmetatable({}, ARRAY))   -- frozen: no request can change it

-- All the applicant's rows for this request, fetched once.
local function history_rows(a)
  local rows = current.history
  if rows ~= nil then return rows end
  local text, why = current.recorded, nil
  if text == nil then
    local id = a.applicant_id            -- absent: the criterion is missing
    local fetch = api.fetch_history
    if fetch and type(id) == "string" then
      local t, err = fetch(id)
      text, why = t, not t and tostring(err) or nil
    end
  end
  if text ~= nil and text ~= "[]" then
    -- Read as strictly as a request: rows the rules read and the decision
    -- records must read back the same in a replay.
    local at
    rows, at = decode(text)
    if at then
      why = string_format("what was given is not JSON in UTF-8 (at byte %d)", at)
    elseif type(rows) ~= "table" or debug_getmetatable(rows) ~= ARRAY then
      why = "what was given is not a JSON array"
    end
  end
  if why then   -- eligo's trouble, not the rule's: the request fails with internal
    local file, line = caller(3)   -- what called earlier(): a check, unless by a tail call
    local where = line > 0 and string_format("%s:%d: ", file, line) or ""
    signal(setmetatable({ message = where .. "the applicant's earlier decisions could not be read: " .. why },
      UNREADABLE))
  end
  if rows == nil then
    rows = NO_HISTORY   -- what decoding and freezing "[]" gives, made once
  else
    for _, r in ipairs(rows) do freeze(r) end
    freeze(rows)
  end
  current.history, current.history_by = rows, {}
  return rows
end

-- A programme named to earlier() or decided_within() must be one of the set:
-- a misspelt id would match no row, and a rule that looks for a refusal
-- pass for everyone.  A retired programme's rows are in earlier(a), by r.program.
local function known_program(fn, program)
  if type(program) ~= "string" or programs[program] == nil then
    error(string_format("%s: %s is not a programme of this rule set (the rows of one that is "
      .. "no longer in it are in earlier(a), by their .program)", fn, describe(program)), 3)
  end
end

function sandbox.earlier(a, program)
  if not rawequal(a, current.applicant) then
    error("earlier: its first argument must be the applicant being decided (the check's first argument)", 2)
  end
  if program ~= nil then known_program("earlier", program) end
  -- Earlier decisions are found by applicant_id: without it in the schema,
  -- its read below would be an error at a line of this file.
  if schema.fields.applicant_id == nil then
    error("earlier: the schema declares no applicant_id, by which an applicant's earlier decisions are found", 2)
  end
  local rows = history_rows(a)
  if rows == NO_HISTORY then   -- no past: nothing to filter or to record
    if not current.history_used then current.history_read, current.history_json = nil, "[]" end
    current.history_used = true
    return NO_HISTORY
  end
  local given = rows
  if program ~= nil then
    given = current.history_by[program]
    if given == nil then
      given = setmetatable({}, ARRAY)
      for _, r in ipairs(rows) do
        if r.program == program then given[#given + 1] = r end
      end
      freeze(given)
      current.history_by[program] = given
    end
  end
  -- What this decision has read so far, by row: the first read of a
  -- decision starts afresh (decide resets history_used).
  local read = current.history_read
  if not current.history_used or read == nil then
    read = {}
    current.history_read = read
  end
  local added = false
  for _, r in ipairs(given) do
    if not read[r] then read[r] = true; added = true end
  end
  if added or not current.history_used then
    local list = setmetatable({}, ARRAY)
    for _, r in ipairs(rows) do
      if read[r] then list[#list + 1] = r end
    end
    current.history_json = #list == 0 and "[]" or c_canon(list)
  end
  current.history_used = true
  return given
end

function sandbox.decided_within(rows, program, outcome, months, on)
  known_program("decided_within", program)
  if outcome ~= nil and not (outcome == "eligible" or outcome == "ineligible" or outcome == "incomplete") then
    -- A misspelt outcome would match no row, and the rule pass for everyone.
    error(string_format("decided_within: outcome must be eligible, ineligible, incomplete or nil, got %s", describe(outcome)), 2)
  end
  local after, why = window_start(4, months, on)
  if not after then helper_error("decided_within", why) end
  local latest
  for _, d in ipairs(rows) do
    if d.program == program and (outcome == nil or d.outcome == outcome)
        and d.as_of > after and d.as_of <= on and (latest == nil or d.as_of > latest.as_of) then
      latest = d
    end
  end
  return latest
end

-- Test-file helpers.
local ABSENT = setmetatable({}, { __tostring = function() return "absent" end })
-- `absent` leaves its key out at any depth: with(base, { business = {
-- sector = absent, ... } }) is a business whose sector is missing.
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do
    if x ~= ABSENT then t[k] = deep_copy(x) end
  end
  return t
end

local test_env = setmetatable({
  null = null,
  absent = ABSENT,
  with = function(base, changes)
    local t = deep_copy(base)
    for k, v in pairs(changes or {}) do
      if v == ABSENT then t[k] = nil else t[k] = deep_copy(v) end
    end
    return t
  end,
  case = function(name)
    declaring("a test case")
    local file, line = caller(2)
    return function(spec)
      declaring("a test case")
      if type(spec) ~= "table" then decl_error(2, "case '%s' needs a table", tostring(name)) end
      if debug_getmetatable(spec) ~= nil then
        decl_error(2, "case '%s' must be a plain table, without a metatable", tostring(name))
      end
      -- A name is text: reporting the case must not fail, nor run a
      -- __tostring of the file's.
      if type(name) ~= "string" then decl_error(2, "a case's name must be a string, not %s", tostring(name)) end
      if rawget(spec, "name") ~= nil then
        decl_error(2, "case '%s' is given the table of case '%s': each case needs a table of its own", name, tostring(rawget(spec, "name")))
      end
      rawset(spec, "name", name)
      rawset(spec, "file", file)
      rawset(spec, "line", line)
      local key = file .. "\0" .. name
      case_named[key] = case_named[key] or spec
      cases[#cases + 1] = spec
    end
  end,
}, { __index = sandbox })
-- A test file declares cases, nothing the requests would run: a programme
-- of its own would decide requests with the test helpers in reach.
for _, what in ipairs({ "program", "criterion", "parameter", "scale", "schema" }) do
  rawset(test_env, what, function()
    error(string_format("%s is declared in a rule file, not a test file (NAME.test.lua holds cases)", what), 2)
  end)
end

-- Loading ---------------------------------------------------------------------

local function read_only_env(base)
  local env = setmetatable({}, {
    __index = base,
    __newindex = function(_, k)
      error(string_format("cannot assign global '%s': rule files declare with program, criterion, parameter, scale and schema, and keep no state", tostring(k)), 2)
    end,
    __metatable = "environment",
  })
  envs[env] = true
  return env
end

-- TEXT with its line ends as Lua counts them, each a "\n": "\r\n", "\n\r" and
-- a lone "\r" end a line too.  The lint's scans and the sources shown by
-- line number count lines as the messages of Lua do.
local function lua_newlines(text)
  if not string_find(text, "\r", 1, true) then return text end
  local out, i, n = {}, 1, #text
  while i <= n do
    local j = string_find(text, "[\r\n]", i)
    if not j then out[#out + 1] = string_sub(text, i); break end
    out[#out + 1] = string_sub(text, i, j - 1) .. "\n"
    local c, d = string_sub(text, j, j), string_sub(text, j + 1, j + 1)
    i = (d == "\r" or d == "\n") and d ~= c and j + 2 or j + 1
  end
  return table_concat(out)
end

-- Test cases sit beside the rules as NAME.test.lua (ruleset.h: ruleset_is_test).
local function is_test_file(name)
  return string_sub(name, -9) == ".test.lua"
end

function api.load(name, text)
  if sealed then error("the rule set is sealed", 0) end
  sources[name] = lua_newlines(text)
  broken[name] = true   -- until it has run to its end
  local is_test = is_test_file(name)
  if string_sub(text, 1, 3) == "\239\187\191" then   -- Lua would say "unexpected symbol near '<\239>'"
    error(string_format("%s:1: begins with a byte order mark (EF BB BF), which Lua does not read: "
      .. "save the file as UTF-8 without one", name), 0)
  end
  local chunk, msg = load(text, "@" .. name, "t", read_only_env(is_test and test_env or sandbox))
  if not chunk then error(string_sub(msg, 1, #name + 1) == name .. ":" and msg or (name .. ": " .. msg), 0) end
  local bad = c_utf8_bad(text)
  if bad then
    local _, lines = string_gsub(lua_newlines(string_sub(text, 1, bad)), "\n", "")
    error(string_format("%s:%d: not UTF-8 text (byte %d): rule files are UTF-8", name, lines + 1, bad), 0)
  end
  chunk()
  broken[name] = nil
end

-- engine.c's result holds the decisions of one screen in a fixed array.
local MAX_PROGRAMMES = 64

function api.seal(ruleset_hash)
  RULESET = ruleset_hash
  if #program_order > MAX_PROGRAMMES then   -- said at the first programme over the limit
    local over = programs[program_order[MAX_PROGRAMMES + 1]][1]
    error(string_format("%s:%d: the rule set declares %d programmes; a screen decides at most %d",
      over.file, over.line, #program_order, MAX_PROGRAMMES), 0)
  end
  if not schema then
    if next(broken) == nil and sources["schema.lua"] then   -- else it may be in a file that did not load
      problem("schema.lua", 1, "no schema: declare the applicant record with schema { ... }")
    elseif next(broken) == nil then   -- the whole set's problem: no file to name
      problem("", 0, "no schema: no file declares the applicant record with schema { ... } "
        .. "(the shipped rules do it in schema.lua)")
    end
    schema = sandbox.record({})
  end
  if #program_order == 0 and next(broken) == nil then   -- the whole set's problem too
    problem("", 0, "no programme: no file declares one with program \"id\" { ... }, so every "
      .. "request would be unknown_program")
  end
  -- FN(t, path) for each enum type of the schema, by its field's path
  -- (business.sector), through records, nullables and lists.
  local function each_enum(t, path, fn)
    if t.kind == "enum" then fn(t, path)
    elseif t.kind == "nullable" or t.kind == "list" then each_enum(t.of, path, fn)
    elseif t.kind == "record" then
      for _, n in ipairs(t.names) do each_enum(t.fields[n], path == "" and n or path .. "." .. n, fn) end
    end
  end
  -- Enum types that name a scale must name a declared one.
  each_enum(schema, "", function(t, path)
    if t.scale and not scales[t.scale] then
      problem(schema_at and schema_at[1] or "schema.lua", schema_at and schema_at[2] or 1,
        "field '%s': scale '%s' is not declared", path, t.scale)
      t.set, t.values = {}, { "(undeclared scale " .. t.scale .. ")" }
    end
  end)
  -- Display names: each enum's and scale's labels name its own values, in
  -- the languages eligo writes, with texts; French or Arabic that leave a
  -- value unnamed are a warning (its readers would see the English name, or
  -- the code).  Then WORDS.labels: each language's names, else English's.
  local checked = {}   -- enum type or scale -> { lang -> value -> label }, once each
  local function quoted(k)
    return type(k) == "string" and not c_utf8_bad(k) and string_format("'%s'", k) or string_format("[%s]", describe(k))
  end
  -- D (an enum type or a scale) declared at FILE:LINE as KIND "ID" (the
  -- enum: KIND "enum", no ID), WHAT in a problem; its labels as checked.
  -- Read raw: a labels table's metamethods are rule code, not run here.
  local function check_labels(d, values, what, file, line, kind, id)
    if checked[d] then return checked[d] end
    local labels, ok = d.labels, {}
    checked[d] = ok
    local function at(...) return key_line(file, line, kind, id, { "labels", ... }) or line end
    if labels == nil then return ok end
    if type(labels) ~= "table" then
      problem(file, at(), "%s: labels is %s, expected a table of languages, { fr = { ... }, ar = { ... } }", what, describe(labels))
      return ok
    end
    local set = {}
    for _, v in ipairs(values) do set[v] = true end
    for _, lang in ipairs(sorted_keys(labels)) do
      local names = rawget(labels, lang)
      if not LANG_OK[lang] then
        problem(file, at(lang), "%s: labels under %s, which is not a language eligo writes (en, fr, ar): no one would read them", what, quoted(lang))
      elseif type(names) ~= "table" then
        problem(file, at(lang), "%s: labels (%s) is %s, expected a table of value = display name", what, lang, describe(names))
      else
        ok[lang] = {}
        for _, v in ipairs(sorted_keys(names)) do
          local n = rawget(names, v)
          if not set[v] then
            problem(file, at(lang, v), "%s: labels (%s) name %s, which is not one of its values (%s)", what, lang, quoted(v), table_concat(values, ", "))
          elseif type(n) ~= "string" or n == "" then
            problem(file, at(lang, v), "%s: the %s label of '%s' is %s, expected a text", what, lang, v, n == "" and "empty" or describe(n))
          elseif c_utf8_bad(n) then
            problem(file, at(lang, v), "%s: the %s label of '%s' is not UTF-8 text (byte %d)", what, lang, v, c_utf8_bad(n))
          else
            ok[lang][v] = n
          end
        end
      end
    end
    for _, lang in ipairs({ "fr", "ar" }) do
      local unnamed = {}
      for _, v in ipairs(values) do
        if not (ok[lang] and ok[lang][v]) then unnamed[#unnamed + 1] = "'" .. v .. "'" end
      end
      if #unnamed > 0 and (rawget(labels, lang) == nil or ok[lang]) then
        problems[#problems + 1] = { file = file, line = rawget(labels, lang) == nil and at() or at(lang), warning = true, msg = string_format(
          "%s: labels (%s) name no %s: %s messages show %s",
          what, lang, table_concat(unnamed, ", "), lang == "fr" and "French" or "Arabic",
          #unnamed == 1 and "it by its English label, or its code" or "these by their English labels, or their codes") }
      end
    end
    return ok
  end
  -- NAME's display names, in WORDS.labels (a field's before a scale's of its name).
  local function add_labels(name, ok, values)
    for _, lang in ipairs(LANGS) do
      local map = {}
      for _, v in ipairs(values) do map[v] = (ok[lang] or {})[v] or (ok.en or {})[v] end
      if next(map) ~= nil and WORDS.labels[lang][name] == nil then WORDS.labels[lang][name] = map end
    end
    if not WORDS.labelled[name] then   -- its values, for the lint of texts' {param|name}
      local set = {}
      for _, v in ipairs(values) do set[v] = true end
      WORDS.labelled[name] = set
    end
  end
  local function levels(sc)   -- a scale's levels that are texts (others are its problems)
    local out = {}
    for _, v in ipairs(sc) do if type(v) == "string" then out[#out + 1] = v end end
    return out
  end
  for _, lang in ipairs(LANGS) do WORDS.labels[lang] = {} end
  WORDS.labelled = {}   -- the names a template's {x|name} may give (enum fields' paths, scales): their values
  each_enum(schema, "", function(t, path)
    if t.scale and scales[t.scale] then
      local sc = scales[t.scale]
      add_labels(path, check_labels(sc, levels(sc), string_format("scale '%s'", t.scale), sc.file, sc.line, "scale", t.scale), levels(sc))
    elseif not t.scale then
      add_labels(path, check_labels(t, t.values, string_format("field '%s'", path), t.file, t.line, "enum", nil), t.values)
    end
  end)
  for _, name in ipairs(sorted_keys(scales)) do
    local sc = scales[name]
    add_labels(name, check_labels(sc, levels(sc), string_format("scale '%s'", name), sc.file, sc.line, "scale", name), levels(sc))
  end
  -- The engine's own functions and tables are not the rules' to freeze.
  local seen = { [sandbox] = true, [test_env] = true }
  for _, env in ipairs({ sandbox, test_env }) do
    for _, v in pairs(env) do seen[v] = true end
  end
  for _, lib in ipairs({ sandbox.string, sandbox.table, sandbox.math, sandbox.utf8 }) do freeze(lib) end
  for _, id in ipairs(program_order) do
    for _, p in ipairs(programs[id]) do
      local where = string_format("programme %s (%s:%d): ", p.id, p.file, p.line)
      seal_value(p.title, seen, where)
      for _, c in ipairs(p.criteria) do
        where = string_format("programme %s, criterion %s (%s:%d): ", p.id, c.id, c.file, c.line)
        seal_value(c.check, seen, where)
        -- Messages are read while deciding: a metamethod of theirs is rule code too.
        seal_value(c.text, seen, where)
        seal_value(c.pass, seen, where)
        seal_value(c.fail, seen, where)
      end
    end
  end
  for _, p in pairs(params) do
    for _, v in ipairs(p.values) do seal_value(v.value, seen) end
  end
  sealed = true
end

-- after(): every plain value a rule function closes over must be as it was
-- when the set was sealed; otherwise a rule kept state between decisions.
-- The value is put back, and the request that changed it fails.
function api.after()
  local changed = C.restore(watched_flat, #watched)   -- for each: if f's upvalue i ~= value, put it back
  changed = changed and watched[changed]
  if changed then
    fail("rule_error", "%s%s: the function defined there changed its local '%s': rules keep no state between decisions",
      changed.owner or "", changed.where, changed.name)
  end
end

-- Deciding ----------------------------------------------------------------------

local function version_in_force(id, on, day)
  local versions = programs[id]
  if not versions then return nil end
  day = day or c_parse_date(on)
  for i = #versions, 1, -1 do
    local p = versions[i]
    if p.from_day <= day and (p.to_day == nil or day <= p.to_day) then return p end
  end
  return nil, versions
end

local function text_in(texts, lang)
  if type(texts) ~= "table" then return nil end
  return texts[lang] or texts.en
end

-- The value of parameter NAME in force on ON, or nil (undeclared, none in
-- force, or no date), then its index in the parameter's values and its
-- record.  NAME may be the parameter itself, or any { values = list sorted
-- by from }.  Read raw: no rule code runs.
local function param_on(name, on)
  local p = type(name) == "table" and name or type(name) == "string" and params[name]
  if not p or type(on) ~= "string" then return nil end
  for i = #p.values, 1, -1 do   -- sorted by from: the latest in force, as param reads it
    local pv = p.values[i]
    if pv.from <= on and (pv.to == nil or on <= pv.to) then return pv.value, i, pv end
  end
  return nil
end

-- TEXT (a criterion's) with each {name} of a declared parameter replaced by
-- its value in force on ON: "Aged {idmaj.age_min} to {idmaj.age_max}" stays
-- true when a new dated value comes, with no edit of the text.  Braces that
-- name no parameter, or one with no number or text in force, stay as written
-- (eligo check reports them); without ON, the text is as written.
-- {name|field} shows that value by the display names of FIELD (an enum
-- field's path, or a scale: WORDS.labels) in the language of TEXT: LANG's
-- when TEXTS (the criterion's texts, which TEXT is one of) has a text in
-- LANG, else English's, whose text is then the one shown; a value that is no
-- text, or none of the field's, as {name} shows it.  The one place texts'
-- braces are filled: programs, explain (audit show) and message() call it.
local function text_on(text, on, lang, texts)
  if type(text) ~= "string" or type(on) ~= "string" or not string_find(text, "{", 1, true) then
    return text
  end
  local values
  for name in string_gmatch(text, "{([^}]*)}") do
    local v = param_on(name, on)
    if type(v) == "number" or type(v) == "string" then
      values = values or {}
      values[name] = v
    elseif v == nil and string_find(name, "|", 1, true) then   -- {name|field}: not a plain {name}'s cost
      local field
      v, field = string_match(name, "^([^|]*)|(.*)$")
      v = param_on(v, on)
      if type(v) == "number" or type(v) == "string" then
        local s = type(texts) == "table" and (frozen[texts] or texts)
        local names = WORDS.labels[s and type(rawget(s, lang)) == "string" and LANG_OK[lang] and lang or "en"][field]
        values = values or {}
        values[name] = type(v) == "string" and names and names[v] or v
      end
    end
  end
  return values and c_render(text, values) or text
end

-- The criterion texts that name a declared parameter, as keys: message()
-- renders only these (a lookup, where a search of every text would count
-- against each decision's instruction budget).  Filled at seal.
local param_texts = {}

local function message(c, passed, values, lang, on)
  -- Not `passed and c.pass or c.fail`: a criterion that passed and has only
  -- a fail template would say why it failed.
  local texts
  if passed then texts = c.pass else texts = c.fail end
  local template = text_in(texts, lang)
  if template and type(template) ~= "string" and type(template) ~= "number" then
    error(string_format("its %s message is %s, not a text", passed and "pass" or "fail", describe(template)), 0)
  end
  if template then return c_render(template, values) end
  local text = text_in(c.text, lang) or c.id
  if type(text) ~= "string" and type(text) ~= "number" then
    error(string_format("its text is %s, not a text", describe(text)), 0)
  end
  if param_texts[text] then text = text_on(text, on, lang, c.text) end
  local word = (passed and WORDS.met or WORDS.not_met)[lang] or WORDS.met.en
  if type(values) ~= "table" then return text .. word end
  -- Read raw, as the decision's JSON reads them (a frozen table's contents):
  -- through a rule's __index or __pairs the text could show other values.
  local mt = debug_getmetatable(values)
  local shadow = type(mt) == "table" and rawget(mt, "__frozen")
  if type(shadow) == "table" then values = shadow end
  if next(values) == nil then return text .. word end
  local keys, names = {}, {}
  for k in next, values do
    keys[#keys + 1] = tostring(k)
    names[tostring(k)] = k
  end
  charged_sort(keys)
  for i, k in ipairs(keys) do keys[i] = k .. " " .. c_format(rawget(values, names[k])) end
  return text .. word .. " (" .. table_concat(keys, ", ") .. ")"
end

-- The criterion loop runs in C (decision.c): it calls each check as pcall
-- would, renders the messages, and writes the decision as the canonical JSON
-- of the table this function used to build.  What it cannot decide comes
-- back here, to be reported as before.
local c_decide, c_reset, c_decision_json, c_keep, c_keep_params
c_decide, sandbox.param, c_reset, c_decision_json, c_keep, c_keep_params = c_decider(current, WORDS.missing, message, MISSING, params, WORDS.labels)

-- current names what runs, for errors raised outside any rule code (the
-- instruction budget, the memory cap): engine.c reads it, decision.c keeps
-- it (as_of, params, program; the criterion it keeps in C).  Returns the decision's number
-- (decision.c keeps what it wrote; engine.c reads it there), or nil and why
-- when a value the rules returned has no JSON form.
-- When the rules read the applicant's earlier decisions (current.history_used,
-- reset by decide), the rows read (current.history_json) go last in the
-- JSON, after decided_at.
local function decide(p, a, on, lang, now)
  -- Once per application: a screen's decisions share the applicant and
  -- date (DATE_BOUNDED.a and .on: the last ones checked).
  local bounded = DATE_BOUNDED
  if bounded[1] and (a ~= bounded.a or on ~= bounded.on) then
    bounded.a, bounded.on = a, on
    local mt = debug_getmetatable(a)
    local v = type(mt) == "table" and rawget(mt, "__frozen")
    for _, name in ipairs(DATE_BOUNDED) do
      local x = type(v) == "table" and rawget(v, name)
      if type(x) == "string" and x > on then
        fail("invalid_applicant", "field '%s': expected a date on or before the decision date %s, got %s",
          name, on, describe(x))
      end
    end
  end
  local d, kind, i, value = c_decide(p, a, on, lang, now, RULESET)
  if d then return d end
  local c = p.criteria[i]
  if kind == 1 then
    fail("rule_error", "programme %s, criterion %s (%s:%d): the check returned %s, expected true or false",
      p.id, c.id, c.file, c.line, describe(value))
  elseif kind == 2 then
    fail("rule_error", "programme %s, criterion %s (%s:%d): the second value of a check must be a table of values",
      p.id, c.id, c.file, c.line)
  elseif kind == 3 then
    local raised = current.raised   -- where a value that is not a text was raised (decision.c)
    current.raised = nil
    if debug_getmetatable(value) == UNREADABLE then   -- not the rule's doing (engine.h)
      fail("internal", "programme %s, criterion %s (%s:%d): %s", p.id, c.id, c.file, c.line, value.message)
    end
    local msg = tostring(type(value) == "table" and value.message or value)   -- no address
    if raised and rawequal(raised[1], value) then msg = raised.at .. " " .. msg end
    if out_of_memory(msg) and api.short ~= nil and api.short() then   -- no rule's doing
      fail("internal", "programme %s, criterion %s (%s:%d): out of memory: the machine had no memory to give",
        p.id, c.id, c.file, c.line)
    end
    if out_of_memory(msg) then   -- Lua says where not: the engine saw it near the cap
      local ok, where = pcall(api.grew or function() return "" end)
      msg = (ok and where or "") .. "memory cap exceeded"
    end
    fail("rule_error", "programme %s, criterion %s (%s:%d): %s", p.id, c.id, c.file, c.line, msg)
  end
  -- The decision has no JSON form: named after the criterion whose values
  -- made it so, when one did.
  if c then return nil, string_format("programme %s, criterion %s (%s:%d): %s", p.id, c.id, c.file, c.line, tostring(value)) end
  return nil, string_format("programme %s: %s", p.id, tostring(value))
end
api.current = current

local OPS = {}   -- op name -> true: those engine.c knows (C.ops)
for _, op in ipairs(C.ops) do OPS[op] = true end
local OPS_TEXT = table_concat(C.ops, ", ")

local function get_string(req, field, required)
  local v = req[field]
  if v == nil or v == null then
    if required then fail("invalid_request", "missing field '%s'", field) end
    return nil
  end
  if type(v) ~= "string" then fail("invalid_request", "field '%s' must be a string, got %s", field, describe(v)) end
  return v
end

-- lua-cjson's names for what it found, as a client would say them.
local CJSON_TOKENS = {
  T_END = "the end of the line", T_OBJ_BEGIN = "'{'", T_OBJ_END = "'}'", T_ARR_BEGIN = "'['",
  T_ARR_END = "']'", T_STRING = "a string", T_NUMBER = "a number", T_BOOLEAN = "true or false",
  T_NULL = "null", T_COLON = "':'", T_COMMA = "','", T_ERROR = "an invalid token",
}

-- What lua-cjson says of a bad escape in a string, as a client would need it said.
local CJSON_ESCAPES = {
  ["expected value but found invalid unicode escape code"] =
    "a \\u escape that is no character: it needs four hex "
    .. "digits, and a surrogate (\\ud800 to \\udfff) only as a pair, high then low (\\ud83d\\ude00)",
  ["expected value but found invalid escape code"] =
    "a backslash escape JSON does not have (it has only "
    .. "\\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\u with four hex digits)",
}

local function decode_line(line, res)
  local req, at, why, id = decode(line)
  if req == nil and ((type(id) == "number" and id > -2^53 and id < 2^53) or (type(id) == "string" and C.utf8_ok(id))) then
    res.id = c_canon(id)   -- read before the text broke
  end
  if why == "deep" then fail("invalid_json", "invalid JSON at byte %d: arrays and objects nested deeper than 64", at) end
  if why == "range" then fail("invalid_json", "invalid JSON at byte %d: a number too large", at) end
  if why == "tiny" then fail("invalid_json", "invalid JSON at byte %d: a number too near 0 to hold (write 0 for zero)", at) end
  if why == "number" then
    fail("invalid_json", "invalid JSON at byte %d: a number with no digits where some must be (after a '-', a '.' or an 'e': 1.0, not 1.)", at)
  end
  if why == "dup" then
    -- The key's text, escapes read (\u0070 is p), to the quote that ends it.
    local stop, i = nil, at + 1
    while i <= #line and not stop do
      local b = string_byte(line, i)
      if b == 92 then i = i + 2 elseif b == 34 then stop = i else i = i + 1 end
    end
    local key = stop and decode(string_sub(line, at, stop))
    if type(key) ~= "string" or not C.utf8_ok(key) or string_find(key, "[%c']") then key = nil end
    fail("invalid_json", "invalid JSON at byte %d: the key %s appears twice in one object, and "
      .. "readers differ on which value counts", at, key and ("'" .. key .. "'") or "there")
  end
  if why == "nul" then
    fail("invalid_request", "a NUL character (\\u0000) at byte %d: no text eligo takes may hold one", at)
  end
  if why then
    local id = type(req) == "table" and rawget(req, "id")
    if type(id) == "number" or (type(id) == "string" and C.utf8_ok(id)) then res.id = c_canon(id) end
    fail("invalid_json", why == "utf8" and "invalid UTF-8 at byte %d"
      or "invalid JSON at byte %d: a control character, which a string must hold escaped (\\t, \\r, \\u001f)", at)
  end
  if req == nil then
    if string_byte(line, at) == 0 then   -- lua-cjson would say the line ends there
      fail("invalid_json", "invalid JSON at byte %d: a NUL byte (JSON allows one only escaped, \\u0000, inside a string, and eligo refuses even that)", at)
    end
    if string_sub(line, 1, 3) == "\239\187\191" then
      fail("invalid_json", "invalid JSON at byte 1: a byte-order mark (EF BB BF) opens the line; JSON lines are UTF-8 without one")
    end
    -- Only on this error path, ask lua-cjson too: its messages say what it
    -- expected and where.
    local ok, msg = pcall(cjson.decode, line)
    local where = not ok and string_match(tostring(msg), "at character (%d+)")
    if where then
      msg = string_gsub(string_gsub(string_gsub(tostring(msg), " at character %d+", ""), "^Expected", "expected"), "^Found", "found")
      msg = string_gsub(msg, "T_[%u_]+", CJSON_TOKENS)
      -- lua-cjson names a bad escape as a value it expected, at the escape:
      -- say what is wrong with it.
      msg = CJSON_ESCAPES[msg] or msg
      fail("invalid_json", "invalid JSON at byte %s: %s", where, msg)
    end
    if at > #line then fail("invalid_json", "invalid JSON: the text ends at byte %d before the value does", #line) end
    -- Show what follows, in ASCII: a cut could split a UTF-8 sequence.
    fail("invalid_json", "invalid JSON at byte %d (near '%s')", at,
      (string_gsub(string_sub(line, at, at + 9), "[^\32-\126]", "?")))
  end
  if type(req) ~= "table" or getmetatable(req) ~= nil then
    fail("invalid_request", "a request must be a JSON object, got %s", describe(req))
  end
  return req
end

-- The result engine.c copies out: envelope fields and decisions.
local function prepare_applicant(req)
  local a = req.applicant
  if a == nil then fail("invalid_request", "missing field 'applicant'") end
  if a == null then fail("invalid_request", "field 'applicant' must be an object, got null") end
  if type(a) ~= "table" or getmetatable(a) ~= nil then
    fail("invalid_request", "field 'applicant' must be an object, got %s", describe(a))
  end
  return c_prepare(a, schema, "")
end

-- The fields each op knows.
local ENVELOPE = { "id", "op", "lang", "as_of" }
local FIELDS, FIELDS_TEXT = {}, {}
for op, own in pairs({ decide = { "program", "applicant", "request_key" },
    screen = { "applicant", "request_key" }, decision = { "decision_id" },
    review = { "decision_id", "review", "request_key" },   -- refused below, saying why
    history = { "applicant_id", "limit" }, programs = {}, health = {} }) do
  local set, list = {}, {}
  for _, list_of in ipairs({ ENVELOPE, own }) do
    for _, k in ipairs(list_of) do
      set[k] = true
      -- A review's request_key is known only to be refused, saying why: not listed.
      if not (op == "review" and k == "request_key") then list[#list + 1] = k end
    end
  end
  FIELDS[op], FIELDS_TEXT[op] = set, table_concat(list, ", ")
end

-- The request in LINE, into RES; raises a request error (fail) or any other.
local function handle(res, line, d_op, d_program, d_as_of, d_lang)
  local req = decode_line(line, res)
  local id = req.id
  if math_type(id) == "float" and not (id > -2^53 and id < 2^53) then
    -- A double holds whole numbers exactly only up to 2^53: the reply could not echo it.
    -- The number read is not the one sent (9007199254740993 reads as ...992): not shown.
    fail("invalid_request", "field 'id': a number of 2^53 or more in size is too large to be echoed exactly; send a smaller one, or send it as a string")
  end
  if id ~= nil then res.id = c_canon(id); current.id = res.id end
  local op = get_string(req, "op", d_op == nil)
  -- A line naming its programme and no op is a decide, whatever the op
  -- given by default (eval --screen), as submit sends it (client.c).
  if op == nil then op = req.program ~= nil and "decide" or d_op end
  if not OPS[op] then fail("unknown_op", "unknown op '%s' (%s)", op, OPS_TEXT) end
  res.op = op
  local lang = get_string(req, "lang") or d_lang
  res.lang = LANG_OK[lang] and lang or "en"   -- the language the texts are in: English unless it has them
  -- A field the op does not know is refused, not ignored: a misspelt
  -- "requestKey" or "asOf" would silently give up idempotency or the date.
  -- Of several, the first in byte order is named: the table's own order
  -- follows Lua's string hashes, seeded from the clock, and one request must
  -- always be refused in the same words.
  local known, first, more = FIELDS[op], nil, 0
  for k in next, req do
    if not known[k] then
      if first ~= nil then more = more + 1 end
      if first == nil or k < first then first = k end
    end
  end
  if first ~= nil then
    fail("invalid_request", "unknown field '%s'%s (a %s request knows %s)", first,
      more > 0 and string_format(", and %d more", more) or "", op, FIELDS_TEXT[op])
  end
  local key = get_string(req, "request_key")
  if key and (key == "" or #key > 200) then
    -- How long it is, so that a client building keys sees by how much it went over.
    fail("invalid_request", "field 'request_key' must be 1 to 200 bytes, got %d", #key)
  end
  if key and c_blank(key) then
    -- Every application sent with it would be one application (conflict, or a stored reply).
    fail("invalid_request", "field 'request_key' is blank: it shows no character, so it names no application")
  end
  if key and op == "review" then
    fail("invalid_request", "field 'request_key' is for decide and screen: a review is recorded each time it is sent (see the decision's reviews before sending one again)")
  end
  res.request_key = key
  local as_of_given = get_string(req, "as_of")
  if as_of_given and not c_parse_date(as_of_given) then
    fail("invalid_request", "field 'as_of': '%s' is not a valid date (YYYY-MM-DD)", as_of_given)
  end
  if op == "decision" or op == "review" then
    -- Crockford base32 reads either way: the stored ids are upper case.  Only
    -- what reads as an id is upper-cased: "no decision nope" names what was sent.
    res.decision_id = get_string(req, "decision_id", true)
    if #res.decision_id == 26 and not string_find(res.decision_id, "[^%w]") then
      res.decision_id = string.upper(res.decision_id)
    end
    if c_blank(res.decision_id) then
      fail("invalid_request", "field 'decision_id' is blank: no decision has an id that shows no character")
    end
    if op == "review" then
      if req.review == nil then fail("invalid_request", "missing field 'review' (an object)") end
      if type(req.review) ~= "table" or getmetatable(req.review) ~= nil then
        fail("invalid_request", "field 'review' must be an object, got %s", describe(req.review))
      end
      res.body = c_canon(req.review)
    end
    return
  elseif op == "history" then
    res.applicant_id = c_nfc(get_string(req, "applicant_id", true))   -- as decide stored it
    if c_blank(res.applicant_id) then
      fail("invalid_request", "field 'applicant_id' is blank: no applicant has an id that shows no character")
    end
    local limit = req.limit
    if limit == null then limit = nil end   -- null: the default, as everywhere
    if limit ~= nil and (math_type(limit) == nil or not math_tointeger(limit) or limit < 1 or limit > 10000) then
      fail("invalid_request", "field 'limit' must be a whole number from 1 to 10000, got %s", describe(limit))
    end
    res.limit = math_tointeger(limit or 100)
    return
  elseif op == "programs" or op == "health" then
    res.as_of = as_of_given
    return
  end
  local as_of = as_of_given or d_as_of or c_today()
  local day = c_parse_date(as_of)
  if not day then fail("invalid_request", "field 'as_of': '%s' is not a valid date (YYYY-MM-DD)", as_of) end
  res.as_of = as_of
  local program
  if op == "decide" then
    program = get_string(req, "program", d_program == nil) or d_program
    res.program = program
  end
  if key then
    -- In NFC, as the applicant's texts are decided: a retry whose front
    -- office sent them decomposed is the same application, not a conflict.
    -- Canonical JSON holds its texts' UTF-8 as it is, and NFC composes
    -- nothing across the ASCII around them that it would not within.
    res.fingerprint = c_sha256(c_nfc(c_canon(setmetatable(
      { op = op, program = program, as_of = as_of_given, applicant = req.applicant or null },
      { __json = order { "op", "program", "as_of", "applicant" } }))))
    current.op, current.request_key, current.fingerprint = op, key, res.fingerprint
  end
  local a = prepare_applicant(req)
  local aid = rawget(req.applicant, "applicant_id")   -- a is read-only, req.applicant its contents
  if type(aid) == "string" then
    if c_blank(aid) then
      -- Everyone sent with it would share one past (earlier(), history).
      fail("invalid_applicant", "field 'applicant_id' is blank (it shows no character): applicants sent with such an id would share one history; leave it out when there is none")
    end
    res.applicant_id = aid
  end
  local decisions = {}
  if op == "decide" then
    local p, versions = version_in_force(program, as_of, day)
    if not p then
      if not versions then fail("unknown_program", "unknown programme '%s'", program) end
      local list = {}
      for i, v in ipairs(versions) do list[i] = string_format("%s from %s%s", v.version, v.from, v.to and (" to " .. v.to) or "") end
      fail("unknown_program", "programme '%s' has no version in force on %s (versions: %s)", program, as_of, table_concat(list, "; "))
    end
    local d, why = decide(p, a, as_of, res.lang, c_now())
    if not d then fail("rule_error", "%s", why) end
    decisions[1] = d
  else
    -- A decision with no JSON form fails the request, but only once every
    -- programme is decided: an error in a later one is reported first.
    local now, unencodable = c_now(), nil
    for _, id in ipairs(program_order) do
      local p = version_in_force(id, as_of, day)
      if p then
        local d, why = decide(p, a, as_of, res.lang, now)
        unencodable = unencodable or why
        decisions[#decisions + 1] = d or false
      end
    end
    if unencodable then fail("rule_error", "%s", unencodable) end
  end
  res.decisions = decisions
end

-- The common case, decide and screen, in C (request.c); anything else is
-- left to handle() before anything was changed.
-- Made at seal (below), not by the first request, which would then take
-- more instructions than the next: where the budget stops a request must
-- not depend on whether its engine had decided others before.
local fast_request
local function handle_request(res, line, d_op, d_program, d_as_of, d_lang)
  if fast_request and fast_request(res, line, d_op, d_program, d_as_of, d_lang) then return end
  return handle(res, line, d_op, d_program, d_as_of, d_lang)
end

function api.request(line, d_op, d_program, d_as_of, d_lang, d_history)
  c_reset()
  current.history, current.history_json, current.recorded = nil, nil, d_history
  current.history_by, current.history_read = nil, nil
  -- Room for every field a decision's reply sets, so that it never grows.
  local res = { id = "null", op = nil, lang = nil, request_key = nil, as_of = nil, program = nil,
    applicant_id = nil, decisions = nil }
  current.id = nil   -- read by engine.c when the budget or the memory cap stops the request
  current.op, current.request_key, current.fingerprint = nil, nil, nil   -- likewise, with a key
  current.program = nil   -- likewise: decide sets it, and the last request's is not this one's
  local ok, err = pcall(handle_request, res, line, d_op, d_program, d_as_of, d_lang)
  DATE_BOUNDED.a, DATE_BOUNDED.on = nil, nil   -- (decide's: this request's applicant, let go)
  if not ok then
    if getmetatable(err) == REQUEST_ERROR then
      res.error_code, res.error_message = err.code, err.message
    else
      error(err, 0)   -- engine.c turns it into a rule_error or internal error
    end
  end
  return res
end

-- A declared text in LANG (English when it has none there), or a
-- reference (no LANG), as programs() and explain() give them: read raw, so
-- that no rule code runs, and only a string (check reports any other value
-- as a missing text or reference), never a value with no JSON form that
-- would fail the whole reply.
local function declared_text(v, lang)
  if lang ~= nil then
    if type(v) ~= "table" then return nil end
    local s = frozen[v] or v
    v = rawget(s, lang)
    if v == nil or v == false then v = rawget(s, "en") end
  end
  return type(v) == "string" and v or nil
end

-- Programmes in force, for the `programs` operation.
function api.programs(as_of, lang)
  as_of = as_of or c_today()
  lang = lang or "en"
  local list = setmetatable({}, ARRAY)
  for _, id in ipairs(program_order) do
    local p = version_in_force(id, as_of)
    if p then
      local criteria = setmetatable({}, ARRAY)
      for i, c in ipairs(p.criteria) do
        criteria[i] = setmetatable({ id = c.id, text = text_on(declared_text(c.text, lang), as_of, lang, c.text),
          reference = declared_text(c.reference) }, { __json = order { "id", "text", "reference" } })
      end
      list[#list + 1] = setmetatable({ id = p.id, title = declared_text(p.title, lang), version = p.version,
        from = p.from, to = p.to, reference = declared_text(p.reference), criteria = criteria },
        { __json = order { "id", "title", "version", "from", "to", "reference", "criteria" } })
    end
  end
  return c_canon(list)
end

-- Explaining a programme version, for audits: its criteria with the source
-- text of their checks, and the parameters of its file with their dated
-- values.  Returns the JSON text, or nil when there is no such version.
local function source_lines(file, first, last)
  local out, n = {}, 0
  for text in string_gmatch((sources[file] or "") .. "\n", "([^\n]*)\n") do
    n = n + 1
    if n > last then break end
    if n >= first then out[#out + 1] = text end
  end
  return table_concat(out, "\n")
end

do   -- window_on's local is api.explain's alone (the main chunk is near Lua's 200 locals)
-- The days around ON on which parameter P reads the value it reads on ON, as
-- { from, to } (no 'to' while nothing ends it), or nil when none is in force
-- then.  A value declared without a 'to' is read until a later value starts:
-- 35 from 2025-01-01 and 40 from 2027-01-01 make 35 the value from
-- 2025-01-01 to 2026-12-31, which the declaration alone does not say.
local function window_on(p, on)
  local _, k = param_on(p, on)
  if not k then return nil end
  local from, to = p.values[k].from, p.values[k].to
  for j = k + 1, #p.values do   -- later values, sorted by from
    local q = p.values[j]
    if q.to ~= nil and q.to < q.from then
      -- Never in force (eligo check says so): read on no day, it neither
      -- ends the window nor starts it again.
    elseif q.from > on then   -- the first to start after ON ends the window
      local last = c_add_days(q.from, -1)
      if to == nil or last < to then to = last end
      break
    elseif q.to >= from then
      -- Started by ON, yet not in force on it: it ended before ON (q.to < on),
      -- and was read in its own days, before the window.
      from = c_add_days(q.to, 1)
    end
  end
  return setmetatable({ from = from, to = to }, { __json = order { "from", "to" } })
end

function api.explain(program, version, lang, on)
  lang = lang or "en"
  local p
  for _, v in ipairs(programs[program] or {}) do
    if v.version == version then p = v end
  end
  if not p then return nil end
  local criteria = setmetatable({}, ARRAY)
  for i, c in ipairs(p.criteria) do
    local info = debug_getinfo(c.check, "S")
    local first, last = info.linedefined, info.lastlinedefined
    criteria[i] = setmetatable({ id = c.id, text = text_on(declared_text(c.text, lang), on, lang, c.text),
      reference = declared_text(c.reference), file = c.file, line = c.line, first_line = first, last_line = last,
      source = source_lines(c.file, first, last) },
      { __json = order { "id", "text", "reference", "file", "line", "first_line", "last_line", "source" } })
  end
  local parameters = {}
  for name, q in pairs(params) do
    if q.file == p.file or string_find(sources[p.file] or "", name, 1, true) then
      local values = setmetatable({}, ARRAY)
      for i, v in ipairs(q.values) do
        values[i] = setmetatable({ from = v.from, to = v.to, value = v.value, reference = declared_text(v.reference) },
          { __json = order { "from", "to", "value", "reference" } })
      end
      parameters[name] = setmetatable({ reference = declared_text(q.reference), file = q.file, line = q.line, values = values,
        in_force = type(on) == "string" and window_on(q, on) or nil },
        { __json = order { "reference", "file", "line", "values", "in_force" } })
    end
  end
  return c_canon(setmetatable({ program = p.id, version = p.version, from = p.from, to = p.to,
    title = declared_text(p.title, lang), reference = declared_text(p.reference), file = p.file, line = p.line,
    criteria = criteria, parameters = parameters },
    { __json = order { "program", "version", "from", "to", "title", "reference", "file", "line", "criteria", "parameters" } }))
end
end

-- Lint --------------------------------------------------------------------------

-- The first day in [from, to] on which parameter P has no value, or nil.
local function first_gap(p, from, to)
  local day = from
  for _, pv in ipairs(p.values) do
    if pv.from > day then return day end
    -- Open, or to the end of what dates can say (the day after 9999-12-31
    -- is no date at all).
    if pv.to == nil or pv.to >= to then return nil end
    if pv.to >= day then day = c_add_days(pv.to, 1) end
    if day > to then return nil end
  end
  return day
end

-- The programme versions declared in FILE (with a 'from' date: without one,
-- that is the problem), each with the lines its criteria's checks span:
-- { { v = version, spans = { first, last, first, last, ... } } }.
local function versions_in(file)
  local list = {}
  for _, id in ipairs(program_order) do
    for _, v in ipairs(programs[id]) do
      if v.file == file and not v.no_from then
        local spans = {}
        for _, c in ipairs(v.criteria) do
          local info = debug_getinfo(c.check, "S")
          if info.source == "@" .. file then
            spans[#spans + 1], spans[#spans + 2] = info.linedefined, info.lastlinedefined
          end
        end
        list[#list + 1] = { v = v, spans = spans }
      end
    end
  end
  return list
end

-- Does a check of version entry E (versions_in) span line N?
local function spans_line(e, n)
  for i = 1, #e.spans, 2 do
    if e.spans[i] <= n and n <= e.spans[i + 1] then return true end
  end
  return false
end

-- Where the short string that opens at I in SRC ends: its closing quote,
-- or the line's end (an unfinished string: Lua says so when it loads).  An
-- escape takes the byte after the backslash, and \z all the blanks after
-- it, line ends too.
local function string_end(src, i)
  local q, j, n = string_sub(src, i, i), i + 1, #src
  while j <= n do
    local d = string_sub(src, j, j)
    if d == "\\" then
      j = string_sub(src, j + 1, j + 1) == "z" and (string_find(src, "[^ \t\r\n\f\v]", j + 2) or n + 1) or j + 2
    elseif d == q or d == "\n" then
      break
    else
      j = j + 1
    end
  end
  return j
end

-- SRC with its comments blanked, newlines kept so that lines keep their
-- numbers; strings are kept (a read names its parameter in one), and a
-- "--" inside a string is no comment.
local function without_comments(src)
  local out, i, n = {}, 1, #src
  while i <= n do
    local c = string_sub(src, i, i)
    local long = (c == "[" or c == "-") and string_match(src, c == "[" and "^%[(=*)%[" or "^%-%-%[(=*)%[", i)
    if c == "-" and string_sub(src, i + 1, i + 1) == "-" then   -- a comment, long or to the line's end
      local stop
      if long then
        stop = select(2, string_find(src, "]" .. long .. "]", i + 4 + #long, true)) or n
      else
        stop = (string_find(src, "\n", i, true) or n + 1) - 1
      end
      out[#out + 1] = (string_gsub(string_sub(src, i, stop), "[^\n]", " "))
      i = stop + 1
    elseif c == "[" and long then   -- a long string
      local _, stop = string_find(src, "]" .. long .. "]", i + 2 + #long, true)
      stop = stop or n
      out[#out + 1] = string_sub(src, i, stop)
      i = stop + 1
    elseif c == '"' or c == "'" then
      local j = string_end(src, i)
      out[#out + 1] = string_sub(src, i, j)
      i = j + 1
    else
      local j = string_find(src, "[-\"'%[]", i + 1) or n + 1
      out[#out + 1] = string_sub(src, i, j - 1)
      i = j
    end
  end
  return table_concat(out)
end

-- The tokens of SRC, its comments blanked (without_comments): each
-- { kind, text, line }, KIND "name", "string", "number" or "op"; a string's
-- TEXT is what stands between its quotes when that holds no escape (else
-- false), a long string's its contents (false when it is not closed).
-- Only what the source scans below need.
-- Operators of two and three bytes; what opens a block (or a nesting) and
-- what closes one.
local OPS = { ["..."] = 3, ["=="] = 2, ["~="] = 2, ["<="] = 2, [">="] = 2, [".."] = 2, ["::"] = 2,
  ["//"] = 2, ["<<"] = 2, [">>"] = 2,
  opens = { ["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true },
  closes = { ["end"] = true, ["until"] = true, ["}"] = true, [")"] = true, ["]"] = true },
  keywords = {} }
for w in string_gmatch("and break do else elseif end false for function goto if in local nil not or " ..
                       "repeat return then true until while", "%a+") do OPS.keywords[w] = true end
local function tokens(src)
  local out, i, n, line = {}, 1, #src, 1
  local function newlines(a, b)
    local _, k = string_gsub(string_sub(src, a, b), "\n", "")
    line = line + k
  end
  while i <= n do
    local c = string_sub(src, i, i)
    local long = c == "[" and string_match(src, "^%[(=*)%[", i)
    if c == "\n" then
      line = line + 1; i = i + 1
    elseif string_find(c, "^%s") then
      i = i + 1
    elseif string_find(c, "^[%a_]") then
      local _, e = string_find(src, "^[%w_]+", i)
      out[#out + 1] = { "name", string_sub(src, i, e), line }; i = e + 1
    elseif string_find(c, "^%d") or string_find(src, "^%.%d", i) then
      local _, e = string_find(src, "^[%w_%.]+", i)
      out[#out + 1] = { "number", string_sub(src, i, e), line }; i = e + 1
    elseif long then
      local _, e = string_find(src, "]" .. long .. "]", i + 2 + #long, true)
      local body = e and string_gsub(string_sub(src, i + 2 + #long, e - 2 - #long), "^\r?\n", "")
      e = e or n
      out[#out + 1] = { "string", body or false, line }
      newlines(i, e); i = e + 1
    elseif c == '"' or c == "'" then
      local j = string_end(src, i)
      local body = string_sub(src, i + 1, j - 1)
      out[#out + 1] = { "string", not string_find(body, "\\", 1, true) and body, line }
      newlines(i, j); i = j + 1
    else
      local op = OPS[string_sub(src, i, i + 2)] == 3 and 3 or OPS[string_sub(src, i, i + 1)] == 2 and 2 or 1
      out[#out + 1] = { "op", string_sub(src, i, i + op - 1), line }; i = i + op
    end
  end
  return out
end

-- Where a problem of a declaration's table is to be fixed: the line of
-- KEY in the table constructor of the declaration KIND "ID" made at FILE's
-- LINE (`criterion "age" { ... text = { ... } }`), in the constructor of
-- its Nth item when N is given (a parameter's dated value, `{ from = ... }`),
-- or the line of that item when KEY is nil; KEY may be a list of keys, a
-- path through constructors given to keys (an enum's or a scale's labels:
-- { "labels", "fr", "bac+2" }), and KIND "enum" with no ID names an
-- `enum { ... }` at LINE; nil when the text does not show
-- it for sure (an id written with an escape, an item that is a variable, a
-- key given in some other way).  Declared above, as the declarations call
-- it, only when they have a problem to report: a clean set is not scanned.
do   -- (a block: the main chunk is near Lua's limit of 200 locals)
local key_tokens = {}   -- file -> its tokens, once scanned
key_line = function(file, line, kind, id, key, n)
  local src = sources[file]
  if not src then return nil end
  key_tokens[file] = key_tokens[file] or tokens(without_comments(src))
  local toks, k = key_tokens[file], nil
  for j, t in ipairs(toks) do   -- KIND "ID" {, or KIND("ID") {, at LINE
    if t[3] == line and t[1] == "name" and t[2] == kind then
      local a, b, c = toks[j + 1], toks[j + 2], toks[j + 3]
      if id == nil and a and a[2] == "{" then k = j + 1; break end   -- enum { ... }
      if a and a[1] == "string" and a[2] == id and b and b[2] == "{" then k = j + 2; break end
      if a and a[2] == "(" and b and b[1] == "string" and b[2] == id and c and c[2] == ")"
          and toks[j + 4] and toks[j + 4][2] == "{" then k = j + 4; break end
    end
  end
  if not k then return nil end
  -- In the constructor opening at OPEN: the key WANT (the last, if given
  -- twice: Lua keeps the last), or the constructor of the NTHth item by position.
  local function find(open, want, nth)
    local depth, items, j, found = 0, 0, open, nil
    while toks[j] do
      local t, prev = toks[j], toks[j - 1]
      local text = t[2]
      if t[1] ~= "string" and t[1] ~= "number" and (text == "{" or text == "(" or text == "[" or OPS.opens[text] and t[1] == "name") then
        -- An item, unless a key in brackets, ["bac+2"] = ... (looked for as a key).
        local after = depth == 1 and j > open and prev[1] == "op" and (prev[2] == "," or prev[2] == ";" or prev[2] == "{")
        if after and nth and text ~= "[" then
          items = items + 1
          if items == nth then return text == "{" and j or nil end
        end
        if after and want and text == "[" and toks[j + 1] and toks[j + 1][1] == "string" and toks[j + 1][2] == want
            and toks[j + 2] and toks[j + 2][2] == "]" and toks[j + 3] and toks[j + 3][2] == "=" then
          found = j
        end
        depth = depth + 1
      elseif t[1] ~= "string" and t[1] ~= "number" and OPS.closes[text] then
        depth = depth - 1
        if depth == 0 then return found end
      elseif depth == 1 and prev[1] == "op" and (prev[2] == "," or prev[2] == ";" or prev[2] == "{") then
        local next1 = toks[j + 1]
        local keyed = t[1] == "name" and next1 and next1[2] == "="
        if keyed and not nth and text == want then found = j end
        if not keyed and nth then   -- an item that is no constructor
          items = items + 1
          if items == nth then return nil end
        end
      end
      j = j + 1
    end
  end
  if n then
    k = find(k, nil, n)
    if not k then return nil end
    if key == nil then return toks[k][3] end
  end
  if type(key) ~= "table" then
    local at = find(k, key)
    return at and toks[at][3] or nil
  end
  -- A path of keys, each in the constructor given to the one before: the
  -- line of the last found (labels = { fr = { bca = ... } }: bca's, or fr's).
  local line_at
  for i, name in ipairs(key) do
    local at = find(k, name)
    if not at then return line_at end
    line_at = toks[at][3]
    local open = toks[at][2] == "[" and at + 4 or at + 2
    if i < #key and not (toks[open] and toks[open][2] == "{") then return line_at end
    k = open
  end
  return line_at
end
end

-- What a rule file's text shows that its loaded tables cannot: a key given
-- twice in one table constructor (Lua keeps the last, so a schema field
-- declared twice is declared once, silently); in a rule file, a string
-- written like a date that is not one ("1990-1-1": a date compared with it
-- is compared as text; "2-22-923", a decree's number, is not written like
-- one), or one written with slashes ("01/07/2026"); a change given nil in
-- with(base, { x = nil }), which leaves it out, so that nothing changes.
-- Appended to OUT as lint problems.
local function source_faults(file, src, rules, out)
  -- A text written as a date is on paper, with slashes, day first
  -- ("01/07/2026") or year first ("2026/7/1"): the YYYY-MM-DD it would be
  -- (a real day or not), or nil.  Dashes with the year last are not taken: a
  -- decree's number may look so ("2-12-1066").
  local function slashed_date(text)
    local d, m, y = string_match(text, "^(%d%d?)/(%d%d?)/(%d%d%d%d)$")
    if not d then
      y, m, d = string_match(text, "^(%d%d%d%d)/(%d%d?)/(%d%d?)$")
    end
    return d and string_format("%s-%02d-%02d", y, tonumber(m), tonumber(d)) or nil
  end
  local toks = tokens(without_comments(src))
  local stack = {}   -- open constructs; a table's entry holds its keys: name -> line
  for k, t in ipairs(toks) do
    local kind, text, line = t[1], t[2], t[3]
    local top, prev = stack[#stack], toks[k - 1]
    local starts = top and prev and prev[1] == "op" and (prev[2] == "{" or prev[2] == "," or prev[2] == ";")
    local key, shown
    if starts and kind == "name" and toks[k + 1] and toks[k + 1][2] == "=" then
      key = text
    elseif starts and text == "[" and toks[k + 1] and toks[k + 1][1] == "string" and toks[k + 1][2]
        and toks[k + 2] and toks[k + 2][2] == "]" and toks[k + 3] and toks[k + 3][2] == "=" then
      key = toks[k + 1][2]
    elseif starts and text == "[" and toks[k + 1] and toks[k + 1][1] == "number"
        and toks[k + 2] and toks[k + 2][2] == "]" and toks[k + 3] and toks[k + 3][2] == "=" then
      local n = tonumber(toks[k + 1][2])   -- [1.0] is [1], as Lua keys them
      n = n and (math_tointeger(n) or n)
      if n then key, shown = "\0" .. tostring(n), "[" .. tostring(n) .. "]" end
    elseif starts and top.keys and not (kind == "op" and (text == "}" or text == "[")) then
      -- An item by position: the next [n].  Lua sets both it and an [n]
      -- given outright, in no promised order.
      top.items = (top.items or 0) + 1
      key, shown = "\0" .. top.items, "[" .. top.items .. "]"
    end
    local after = key and not shown and toks[k + (text == "[" and 4 or 2)]
    local ends = key and not shown and toks[k + (text == "[" and 5 or 3)]
    if key and top.changes and after and after[1] == "name" and after[2] == "nil"
        and ends and (ends[2] == "," or ends[2] == ";" or ends[2] == "}") then
      out[#out + 1] = { file = file, line = line, msg = string_format(
        "with(..., { %s = nil }) changes nothing (a nil leaves the key out): `absent` removes a field, `null` sends JSON null", key) }
    end
    if key and top.keys then
      local first = top.keys[key]
      if first then
        out[#out + 1] = { file = file, line = line, msg = shown and string_format(
          "key %s is given twice in one table (first at line %d; an item's position is its key): Lua keeps only one", shown, first)
          or string_format("key '%s' is given twice in one table (first at line %d): Lua keeps only the last", key, first) }
      else
        top.keys[key] = line
      end
    end
    if kind == "op" and text == "{" then   -- with(base, { ... }): the changes
      stack[#stack + 1] = { keys = {}, changes = top and top.with and prev[2] == "," }
    elseif kind == "op" and text == "(" then
      stack[#stack + 1] = { with = prev and prev[1] == "name" and prev[2] == "with" }
    elseif (kind == "op" and text == "[") or (kind == "name" and OPS.opens[text]) then
      stack[#stack + 1] = {}
    elseif (kind == "op" or kind == "name") and OPS.closes[text] then
      stack[#stack] = nil
    elseif rules and kind == "string" and text and string_find(text, "^%d%d%d%d%-%d%d?%-%d%d?$") and not c_parse_date(text) then
      out[#out + 1] = { file = file, line = line, msg = string_format(
        "\"%s\" is written like a date but is not one (YYYY-MM-DD, a real day): a date compared with it is compared as text", text) }
    elseif rules and kind == "string" and text and slashed_date(text) then
      local iso = slashed_date(text)
      out[#out + 1] = { file = file, line = line, msg = c_parse_date(iso) and string_format(
        "\"%s\" is written like a date but not as YYYY-MM-DD (%s): a date compared with it is compared as text", text, iso)
        or string_format("\"%s\" is written like a date but is not one (YYYY-MM-DD, a real day): a date compared with it is compared as text", text) }
    elseif rules and kind == "string" and text and not c_utf8_bad(text) and c_nfc(text) ~= text then
      -- A warning: a message may be decomposed and still read well.
      out[#out + 1] = { file = file, line = line, warning = true, msg = string_format(
        "\"%s\" is not in Unicode NFC (it holds a decomposed character): applicants' texts reach "
        .. "the rules composed, so compared with one it is never equal; write it composed", text) }
    end
  end
end

-- Reads of fields the schema does not declare in the check of criterion C:
-- a check reading one raises a rule error at the read, which check can say
-- at once.  A read is A.name, A being the check's first argument, and goes
-- on through records (A.business.sector); it stops at a list, or a field of
-- no record type.  A local given a record and nothing else, `local b =
-- a.business`, or a record with an empty table for its fallback, `local b
-- = a.business or {}`, is read the same way to the end of its block
-- (b.sector).
-- The check's own tokens are read, from its `function` to the matching
-- `end`; a check that shares its first line with another function of the
-- same parameters and last line is left alone (which of them is the check
-- cannot be told), and so is one that gives the name A another meaning (a
-- local, a loop variable, an inner function's argument, an assignment):
-- that A may be anything; a local given another meaning is not followed.
-- TOKS are the tokens of FILE, where the check is, and INFO its
-- debug_getinfo("S"); each read found is appended to OUT, once per path.
local function undeclared_reads(c, info, file, toks, out)
  local a = debug_getlocal(c.check, 1)
  if not a or not schema_at or info.what ~= "Lua" then return end
  if debug_getlocal(c.check, 2) == a then return end   -- function(a, a): which a?
  -- The tokens from the `function` at token HEADER to the `end` that closes
  -- it (repeat ... until nests apart), or nil where the file ends first.
  local function span_of(header)
    local span, depth, k = {}, 0, header
    repeat
      local t = toks[k]
      if not t then return nil end
      span[#span + 1] = k
      if t[1] == "name" then
        if OPS.opens[t[2]] then depth = depth + 1
        elseif OPS.closes[t[2]] then depth = depth - 1 end
      end
      k = k + 1
    until depth == 0
    return span
  end
  -- Whether the function whose '(' is token K (a method's when METHOD) has
  -- the check's parameters, in order, and ends on the check's last line.
  local u = debug_getinfo(c.check, "u")
  local function like_check(k, method, span)
    local names, vararg = method and { "self" } or {}, false
    k = k + 1
    while toks[k] and toks[k][2] ~= ")" do
      if toks[k][1] == "name" then names[#names + 1] = toks[k][2]
      elseif toks[k][2] == "..." then vararg = true end
      k = k + 1
    end
    if #names ~= u.nparams or vararg ~= u.isvararg or toks[span[#span]][3] ~= info.lastlinedefined then
      return false
    end
    for i, n in ipairs(names) do
      if debug_getlocal(c.check, i) ~= n then return false end
    end
    return true
  end
  -- Lua's linedefined is the line of the '(' after `function` (and its
  -- name, if any): the keyword is found back from it.  Where several
  -- functions begin on that line (two checks, or a check and a function in
  -- it), the check is the one with its parameters and its last line; where
  -- more than one has both, which is the check cannot be told.
  local header, span
  for k, t in ipairs(toks) do
    if t[3] == info.linedefined and t[1] == "op" and t[2] == "(" then
      local j, method = k - 1, false
      while toks[j] and (toks[j][1] == "name" and not OPS.keywords[toks[j][2]] or toks[j][2] == "." or toks[j][2] == ":") do
        method = method or toks[j][2] == ":"
        j = j - 1
      end
      local s = toks[j] and toks[j][2] == "function" and span_of(j)
      if s and like_check(k, method, s) then
        if header then return end   -- two alike: which is the check?
        header, span = j, s
      end
    end
  end
  if not header then return end
  -- Whether NAME is given a meaning in the span other than by the `local`
  -- at token SKIP: local NAME (<attrib> and all); for NAME; function (...,
  -- NAME); NAME = ..., NAME, x = ....
  local function declared(j)   -- whether the name at J is one a `local` declares
    repeat j = j - 1 until not (toks[j] and (toks[j][2] == "," or toks[j][2] == "<" or toks[j][2] == ">"
      or (toks[j][1] == "name" and not OPS.keywords[toks[j][2]])))
    return toks[j] ~= nil and toks[j][2] == "local"
  end
  local function rebound(name, skip)
    -- What is open at token j, brackets and blocks: right inside a {...},
    -- `name =` is a key; inside a function in it, an assignment again.
    local open = {}
    for i, j in ipairs(span) do
      local t = toks[j]
      if (t[1] == "op" and (t[2] == "(" or t[2] == "[" or t[2] == "{")) or (t[1] == "name" and OPS.opens[t[2]]) then
        open[#open + 1] = t[2]
      elseif OPS.closes[t[2]] and (t[1] == "op") == (t[2] ~= "end" and t[2] ~= "until") then
        open[#open] = nil
      end
      if j == skip then
      elseif t[1] == "name" and (t[2] == "local" or t[2] == "for" or (t[2] == "function" and i > 1)) then
        local n = j + 1
        if t[2] == "function" then
          local method = false   -- function t:m(...) has a self of its own
          while toks[n] and toks[n][2] ~= "(" do method = method or toks[n][2] == ":"; n = n + 1 end
          if method and name == "self" then return true end
          n = n + 1
        end
        while toks[n] and (toks[n][1] == "name" or toks[n][2] == "," or toks[n][2] == "<" or toks[n][2] == ">") do
          if toks[n][1] == "name" and toks[n][2] == name and not (toks[n - 1] and toks[n - 1][2] == "<") then return true end
          n = n + 1
        end
      elseif t[1] == "name" and t[2] == name and toks[j + 1] and (toks[j + 1][2] == "=" or toks[j + 1][2] == ",")
          and not (toks[j - 1] and (toks[j - 1][2] == "." or toks[j - 1][2] == ":")) and not declared(j)
          and open[#open] ~= "{" then
        -- An assignment's targets: names, fields, indexes and calls' fields
        -- (a, t[1], f().x = ...), brackets skipped whole, up to its '='.
        local n, open = j + 1, 0
        while toks[n] do
          local w = toks[n][2]
          if w == "(" or w == "[" or w == "{" then open = open + 1
          elseif w == ")" or w == "]" or w == "}" then open = open - 1
          elseif open == 0 and (w == "=" or not (toks[n][1] == "name" or w == "," or w == "." or w == ":")) then break end
          if open < 0 then break end
          n = n + 1
        end
        if toks[n] and toks[n][2] == "=" and open == 0 then return true end
      end
    end
    return false
  end
  if rebound(a) then return end
  -- The names read as records: A over the whole span, and each local given
  -- a record path alone, from the end of its `local` to the end of its
  -- block.  name -> { path, type, from, to } (token indexes).
  local roots = { [a] = { path = a, type = schema, from = header, to = span[#span] } }
  local function root_at(name, j)
    local r = roots[name]
    return r and j >= r.from and j <= r.to and r or nil
  end
  -- The path at token N (a root, then .name ...), as far as it is a record
  -- the schema declares: its text and type, and the token after it.
  local function path_at(n)
    local r = toks[n] and toks[n][1] == "name" and root_at(toks[n][2], n)
    if not r then return nil end
    local ty, path = r.type, r.path
    while toks[n + 1] and toks[n + 1][2] == "." and toks[n + 2] and toks[n + 2][1] == "name" do
      if ty.kind == "nullable" then ty = ty.of end
      if ty.kind ~= "record" or not ty.fields[toks[n + 2][2]] then return nil end
      ty, path, n = ty.fields[toks[n + 2][2]], path .. "." .. toks[n + 2][2], n + 2
    end
    return path, ty, n + 1
  end
  -- The token after `or {}` at token K, or K when there is none there.
  local function past_empty_fallback(k)
    if toks[k] and toks[k][1] == "name" and toks[k][2] == "or"
        and toks[k + 1] and toks[k + 1][1] == "op" and toks[k + 1][2] == "{"
        and toks[k + 2] and toks[k + 2][1] == "op" and toks[k + 2][2] == "}" then
      return k + 3
    end
    return k
  end
  -- The path in parentheses at token N, `(a.business)` or `(a.business or
  -- {})`, as path_at gives it, the token after the ')' last.
  local function paren_path_at(n)
    local path, ty, after = path_at(n + 1)
    if not path then return nil end
    after = past_empty_fallback(after)
    if not (toks[after] and toks[after][1] == "op" and toks[after][2] == ")") then return nil end
    return path, ty, after + 1
  end
  for i, j in ipairs(span) do
    if toks[j][2] == "local" and toks[j][1] == "name" and toks[j + 1] and toks[j + 1][2] ~= "function" then
      -- name [<attrib>] {, name [<attrib>]}: a name after a name is the
      -- next statement's (local x  y = a.business).
      local names, n = {}, j + 1
      while toks[n] and toks[n][1] == "name" do
        names[#names + 1] = toks[n][2]
        n = n + 1
        if toks[n] and toks[n][2] == "<" and toks[n + 2] and toks[n + 2][2] == ">" then n = n + 3 end
        if not (toks[n] and toks[n][2] == ",") then break end
        n = n + 1
      end
      -- Each value in turn while it is a path alone, or a path `or {}`: one
      -- ended by a ',', or by the next statement (a `;`, or a name that is
      -- not `and`/`or`).  The empty table a missing record falls back to
      -- has no field at all, so a read the record would refuse is as wrong
      -- through it; a fallback with fields ({ sector = "x" }) may be what
      -- the read is for, and is not followed.
      local v = 1
      while toks[n] and (toks[n][2] == "=" or toks[n][2] == ",") and names[v] do
        local path, ty, after
        if toks[n + 1] and toks[n + 1][1] == "op" and toks[n + 1][2] == "(" then
          path, ty, after = paren_path_at(n + 1)
        else
          path, ty, after = path_at(n + 1)
          if path then after = past_empty_fallback(after) end
        end
        local t = toks[after]
        if not path or (t and not (t[2] == "," or t[2] == ";" or
            (t[1] == "name" and t[2] ~= "and" and t[2] ~= "or"))) then break end
        if ty.kind == "nullable" then ty = ty.of end
        if ty.kind == "record" and not roots[names[v]] and not rebound(names[v], j) then
          -- Its block ends at the `end` (or `until`, `else`, `elseif`)
          -- that closes the construct the `local` is in.
          local d, last = 0, span[#span]
          for q = i + 1, #span do
            local w = toks[span[q]]
            if w[1] == "name" and OPS.opens[w[2]] then d = d + 1
            elseif w[1] == "name" and (OPS.closes[w[2]] or (d == 0 and (w[2] == "else" or w[2] == "elseif"))) then
              d = d - 1
              if d < 0 then last = span[q]; break end
            end
          end
          roots[names[v]] = { path = path, type = ty, from = after, to = last }
        end
        v, n = v + 1, after
      end
    end
  end
  local said = {}
  for _, j in ipairs(span) do
    local t, prev = toks[j], toks[j - 1]
    local r = t[1] == "name" and root_at(t[2], j)
    local ty, path, shown, n
    if r and not (prev and prev[1] == "op" and (prev[2] == "." or prev[2] == ":")) then
      ty, path, shown, n = r.type, r.path, t[2], j
    elseif t[1] == "op" and t[2] == "(" and not (prev and ((prev[1] == "name" and not OPS.keywords[prev[2]])
        or prev[2] == ")" or prev[2] == "]" or prev[1] == "string")) then
      -- A record in parentheses, `(a.business or {}).sector`; not a call's
      -- arguments, f(a.business).sector, which read what f returns.
      local p, pty, after = paren_path_at(j)
      if p then
        ty, path, n = pty, p, after - 1
        local written, k = {}, j + 1
        while toks[k][1] == "name" and toks[k][2] ~= "or" or toks[k][2] == "." do
          written[#written + 1] = toks[k][2]
          k = k + 1
        end
        shown = "(" .. table_concat(written) .. (toks[k][2] == "or" and " or {})" or ")")
      end
    end
    if ty then
      while ty and toks[n + 1] and toks[n + 1][2] == "." and toks[n + 2] and toks[n + 2][1] == "name" do
        if ty.kind == "nullable" then ty = ty.of end
        if ty.kind ~= "record" then break end
        local name = toks[n + 2][2]
        path, shown = path .. "." .. name, shown .. "." .. name
        if not ty.fields[name] then
          if not said[path] then
            said[path] = true
            out[#out + 1] = { file = file, line = t[3], warning = true, msg = string_format(
              "criterion '%s' reads %s%s, which the schema does not declare: reading it is a rule error",
              c.id, shown, shown ~= path and " (" .. path .. ")" or "") }
          end
          break
        end
        ty, n = ty.fields[name], n + 2
      end
    end
  end
end

-- FN(v, c, lang, text, name) for each {name} in the texts of each criterion
-- of each programme version, in order.
local function each_text_brace(fn)
  for _, id in ipairs(program_order) do
    for _, v in ipairs(programs[id]) do
      for _, c in ipairs(v.criteria) do
        local texts = type(c.text) == "table" and (frozen[c.text] or c.text)
        if C.braced(texts) then   -- most texts have no braces: one call each
          -- A name runs from a '{' to the next '}', as the renderer reads it
          -- (decision_render): "{{p.max}}" names "{p.max", no parameter.
          for _, lang in ipairs(LANGS) do
            local t = rawget(texts, lang)
            for name in string_gmatch(type(t) == "string" and t or "", "{([^}]*)}") do
              fn(v, c, lang, t, name)
            end
          end
        end
      end
    end
  end
end

function api.lint()
  local out = {}
  for i, p in ipairs(problems) do out[i] = p end
  -- A programme's versions, in order of their 'from': each must be in force
  -- some day, and none may leave a day between two of them uncovered (an
  -- application that day would find no version in force).
  for _, id in ipairs(program_order) do
    local last   -- of the versions so far, the one in force the furthest
    for _, v in ipairs(programs[id]) do
      if v.no_from then   -- reported where it is declared
      elseif v.to and v.to < v.from then
        out[#out + 1] = { file = v.file, line = v.line, msg = string_format(
          "programme '%s' %s is never in force: its 'to' (%s) is before its 'from' (%s)", id, v.version, v.to, v.from) }
      else
        if last and last.to and last.to < v.from and c_add_days(last.to, 1) < v.from then
          out[#out + 1] = { file = v.file, line = v.line, msg = string_format(
            "programme '%s': no version is in force from %s to %s, between %s (to %s) and %s (from %s)",
            id, c_add_days(last.to, 1), c_add_days(v.from, -1), last.version, last.to, v.version, v.from) }
        end
        if not last or (last.to and (not v.to or v.to > last.to)) then last = v end
      end
    end
  end
  -- A criterion's text shows the parameters it names in braces, {name}:
  -- each must be declared, hold a number or a text, and be in force whenever
  -- the version is (while a file did not load, its parameters are unknown);
  -- {name|field} shows name's, by the labels of an enum field or a scale,
  -- as a template's {x|field} (not without a schema, as below).  Each at
  -- the line of the text in that language.
  local told = {}   -- criterion -> names said: once each
  each_text_brace(function(v, c, lang, _, name)
    told[c] = told[c] or {}
    if told[c][name] then return end
    told[c][name] = true
    local param, field = name, nil
    if not params[name] and string_find(name, "|", 1, true) then param, field = string_match(name, "^([^|]*)|(.*)$") end
    local p, msg = params[param], nil
    if not p then
      msg = not next(broken) and string_format("criterion '%s' text (%s): {%s} names no declared parameter (braces in a text show a parameter's value on the decision date)", c.id, lang, name)
    elseif type(p.values[1].value) ~= "number" and type(p.values[1].value) ~= "string" then
      local v = p.values[1].value   -- declared in Lua: a list has its [1]
      msg = string_format("criterion '%s' text (%s): parameter '%s' holds %s, and a text can show only a number or a text", c.id, lang, param,
        type(v) == "table" and (rawget(frozen[v] or v, 1) ~= nil and "a list" or "a table") or describe(v))
    else
      local gap = not v.no_from and first_gap(p, v.from, v.to or "9999-12-31")
      msg = gap and string_format("criterion '%s' text (%s) shows parameter '%s', which has no value in force on %s, when %s %s is", c.id, lang, param, gap, v.id, v.version)
    end
    local line
    if msg or field then line = key_line(c.file, c.line, "criterion", c.id, { "text", lang }) or c.line end
    if msg then out[#out + 1] = { file = c.file, line = line, msg = msg } end
    if field and not WORDS.labelled[field] and next(broken) == nil and schema_at then
      out[#out + 1] = { file = c.file, line = line, msg = string_format(
        "criterion '%s' text (%s): {%s} shows a value by the labels of '%s', which is no enum field of the schema and no scale",
        c.id, lang, name, field) }
    elseif field and p and not msg and WORDS.labelled[field] then
      -- A value that is none of the field's has no label: shown as written.
      for _, pv in ipairs(p.values) do
        if type(pv.value) == "string" and not WORDS.labelled[field][pv.value] then
          out[#out + 1] = { file = c.file, line = line, warning = true, msg = string_format(
            "criterion '%s' text (%s): {%s}: parameter '%s' holds '%s' from %s, which is no value of '%s': the text shows it as written",
            c.id, lang, name, param, pv.value, pv.from, field) }
        end
      end
    end
  end)
  -- A message template's {x|name} shows x by the display names of name: an
  -- enum field of the schema (its path) or a scale, else it shows the code.
  -- (Not without a schema: each would be said, for want of the schema.)
  local labels_told = {}   -- criterion -> true: a criterion kept by two versions, once
  for _, id in ipairs(next(broken) == nil and schema_at and program_order or {}) do
    for _, v in ipairs(programs[id]) do
      for _, c in ipairs(v.criteria) do
        for _, key in ipairs(labels_told[c] and {} or { "fail", "pass" }) do
          local texts = type(c[key]) == "table" and (frozen[c[key]] or c[key])
          for _, lang in ipairs(texts and LANGS or {}) do
            local t = rawget(texts, lang)
            for name in string_gmatch(type(t) == "string" and t or "", "{([^}|]*|[^}]*)}") do
              local field = string_sub(name, string_find(name, "|", 1, true) + 1)
              if not WORDS.labelled[field] then
                out[#out + 1] = { file = c.file, line = key_line(c.file, c.line, "criterion", c.id, { key, lang }) or c.line,
                  msg = string_format("criterion '%s' %s message (%s): {%s} shows a value by the labels of '%s', which is no enum field of the schema and no scale",
                    c.id, key, lang, name, field) }
              end
            end
          end
        end
        labels_told[c] = true
      end
    end
  end
  -- Fields a check reads must be declared (the check's own file, as loaded;
  -- while a file did not load, the schema may be the one that did not).
  local toks_of = {}
  for _, id in ipairs(next(broken) == nil and program_order or {}) do
    for _, v in ipairs(programs[id]) do
      for _, c in ipairs(v.criteria) do
        local info = type(c.check) == "function" and debug_getinfo(c.check, "S")
        local file = info and string_match(info.source, "^@(.+)$")
        if file and sources[file] and not broken[file] then
          toks_of[file] = toks_of[file] or tokens(without_comments(sources[file]))
          undeclared_reads(c, info, file, toks_of[file], out)
        end
      end
    end
  end
  -- Parameters a file reads must be declared, and in force whenever a
  -- version of the programme that reads them is (a read named in a comment
  -- is not one): the version whose check
  -- reads it, or every version of the file for a read outside the checks.
  -- A file that did not load is not scanned, and while one did not, a
  -- parameter may be declared in it: "not declared" waits for it to load.
  local names, any_broken = {}, next(broken) ~= nil
  for n in pairs(sources) do names[#names + 1] = n end
  table_sort(names)
  for _, file in ipairs(names) do
    if string_find(sources[file], "^%s*$") then   -- being written (truncated, then filled)?
      out[#out + 1] = { file = file, line = 1, msg = "the file is empty" }
    end
    if not broken[file] then source_faults(file, sources[file], not is_test_file(file), out) end
    if not is_test_file(file) and not broken[file] then
      local versions, told = versions_in(file), {}
      -- A read is the name param called with a string, param "x" or
      -- param("x") (in a string or a comment, the words are no read).
      local toks = tokens(without_comments(sources[file]))
      for k, t in ipairs(toks) do
        local arg = t[1] == "name" and t[2] == "param" and not (toks[k - 1] and toks[k - 1][1] == "op"
          and (toks[k - 1][2] == "." or toks[k - 1][2] == ":")) and toks[k + 1]
        if arg and arg[2] == "(" then
          -- param("x"), not param("x" .. y): a name made at run time is checked then
          local close = toks[k + 3]
          arg = close and close[1] == "op" and close[2] == ")" and toks[k + 2]
        end
        local name = arg and arg[1] == "string" and arg[2]
        local lineno = name and arg[3]
        if name then
          local p = params[name]
          if not p then
            if not any_broken then
              out[#out + 1] = { file = file, line = lineno, msg = string_format("parameter '%s' is not declared", name) }
            end
          else
            local in_check = false
            for _, e in ipairs(versions) do in_check = in_check or spans_line(e, lineno) end
            for _, e in ipairs(versions) do
              local v = e.v
              local gap = (not in_check or spans_line(e, lineno)) and first_gap(p, v.from, v.to or "9999-12-31")
              local key = gap and (name .. "\0" .. v.id .. "\0" .. v.version)
              if gap and not told[key] then   -- once per parameter and version, at its first read
                told[key] = true
                out[#out + 1] = { file = file, line = lineno, msg = string_format(
                  "parameter '%s' has no value in force on %s, when %s %s is", name, gap, v.id, v.version) }
              end
            end
          end
        end
      end
    end
  end
  return out
end

-- Tests ---------------------------------------------------------------------------

local function set_of(list)
  local s, n = {}, 0
  for _, v in ipairs(list or {}) do if not s[v] then s[v] = true; n = n + 1 end end
  return s, n
end

local function same_set(a, b)
  local sa, na = set_of(a)
  local sb, nb = set_of(b)
  if na ~= nb then return false end
  for k in pairs(sa) do if not sb[k] then return false end end
  return true
end

local function list_text(l)
  local t = {}
  for i, v in ipairs(l or {}) do t[i] = tostring(v) end
  charged_sort(t)
  return "{" .. table_concat(t, ", ") .. "}"
end

-- Criteria coverage over the cases run so far: "program/criterion" -> counts.
local coverage
-- Cases that ended in an error they did not expect, case number -> its
-- programme: their criteria were counted neither way, so a note of none is
-- said with them.  Kept by case, and cleared when a case runs, so that a case
-- run again (engine_test, after the memory cap stopped it) counts as its
-- last run ended, not once for each run.
local coverage_errors

-- Each version's criteria are counted apart: a later version's criterion
-- whose check changed is not covered by the cases of an earlier one.
local function coverage_key(id, version, crit)
  return id .. "/" .. crit .. "\0" .. version
end

local function reset_coverage()
  coverage, coverage_errors = {}, {}
  for _, id in ipairs(program_order) do
    for _, p in ipairs(programs[id]) do
      local name = #programs[id] > 1 and string_format("%s/%%s of version %s", id, p.version) or id .. "/%s"
      for _, c in ipairs(p.criteria) do
        coverage[coverage_key(id, p.version, c.id)] =
          { pass = 0, fail = 0, file = c.file, line = c.line, name = string_format(name, c.id), program = id }
      end
    end
  end
end

function api.case_count()
  reset_coverage()
  return #cases
end

-- Run case I; return nil when it passes, else { file, line, msg }.
-- A test case's applicant is a Lua table: mark the tables the schema says
-- are lists, so that an empty one is sent as [] and not as {}.
local function mark_lists(v, t)
  if type(v) ~= "table" or not t then return end
  if t.kind == "nullable" then return mark_lists(v, t.of) end
  if t.kind == "list" then
    if getmetatable(v) == nil and (next(v) == nil or v[1] ~= nil) then setmetatable(v, ARRAY) end
    for _, x in ipairs(v) do mark_lists(x, t.of) end
  elseif t.kind == "record" then
    for name, ft in pairs(t.fields) do mark_lists(rawget(v, name), ft) end
  end
end

-- What a case may say, beyond what run_case sets (name, file, line).
KEYS.case, KEYS.case_text = key_set({ "program", "as_of", "applicant", "outcome", "failed", "missing",
  "passed", "history", "error", "lang" })
KEYS.case.name, KEYS.case.file, KEYS.case.line = true, true, true
KEYS.history, KEYS.history_text = key_set({ "decision_id", "program", "program_version", "ruleset",
  "as_of", "lang", "outcome", "decision_outcome", "criteria", "missing", "parameters", "decided_at" })
local OUTCOMES = { eligible = true, ineligible = true, incomplete = true }
-- The codes a decide can answer with, offline as in the server.
KEYS.case_error, KEYS.case_error_text = key_set({ "invalid_json", "invalid_request", "unknown_op",
  "unknown_program", "invalid_applicant", "rule_error", "internal" })

-- The first field of applicant V (at PATH) that type T does not declare:
-- a misspelt field would be read as absent, and the case test what it
-- does not say.
local function undeclared(v, t, path)
  if type(v) ~= "table" or v == null then return nil end
  local kind = t.kind
  if kind == "nullable" then return undeclared(v, t.of, path) end
  if kind == "list" then
    for _, x in ipairs(v) do
      local bad = undeclared(x, t.of, path)
      if bad then return bad end
    end
  elseif kind == "record" then
    local names = {}
    for k in pairs(v) do names[#names + 1] = tostring(k) end
    charged_sort(names)
    for _, k in ipairs(names) do
      local ft = t.fields[k]
      if not ft then return path .. k end
      local bad = undeclared(v[k], ft, path .. k .. ".")
      if bad then return bad end
    end
  end
  return nil
end

-- What is wrong with CASE as written, before it runs, or nil.
local function case_fault(case)
  local odd = {}
  for k in next, case do
    if not KEYS.case[k] then odd[#odd + 1] = tostring(k) end
  end
  charged_sort(odd)
  if #odd > 0 then return string_format("unknown key '%s' (a case knows %s)", odd[1], KEYS.case_text) end
  if case.name == "" then return "a case needs a name: a failure shows it" end
  local first = case_named[case.file .. "\0" .. case.name]
  if first ~= case then
    return string_format("the case at line %d has this name already: a failure would not say which", first.line)
  end
  if case.error ~= nil and case.outcome ~= nil then
    return "a case expects an error or an outcome, not both (the outcome would go unchecked)"
  end
  if case.error ~= nil and not KEYS.case_error[case.error] then
    return string_format("error must be one of %s, got %s", KEYS.case_error_text, describe(case.error))
  end
  local fault = date_fault(case.as_of, "as_of")
  if fault then
    -- Left out (or not a text), it would be decided on the day the tests run.
    return type(case.as_of) == "string" and fault or fault .. ": without one a case is decided on the day it runs"
  end
  if case.error == nil and not OUTCOMES[case.outcome] then
    return string_format("outcome must be eligible, ineligible or incomplete, got %s", describe(case.outcome))
  end
  for _, k in ipairs({ "failed", "missing", "passed" }) do
    local l = case[k]
    if l ~= nil then
      if type(l) ~= "table" then return string_format("%s must be a list of names, got %s", k, describe(l)) end
      -- { registered = true } would be read as an empty list; of two such
      -- keys, the same one is named in every run.
      for _, key in ipairs(sorted_keys(l)) do
        if math_type(key) ~= "integer" or key < 1 or key > #l then
          return string_format("%s must be a list of names, { \"a\", \"b\" }, not a table with the key %s", k,
            type(key) == "string" and "'" .. key .. "'" or describe(key))
        end
      end
      local seen = {}
      for _, x in ipairs(l) do
        if type(x) ~= "string" then return string_format("%s must be a list of names, holding %s", k, describe(x)) end
        if seen[x] then return string_format("%s names '%s' twice", k, x) end
        seen[x] = true
      end
    end
  end
  for _, id in ipairs(case.passed or {}) do
    for _, f in ipairs(case.failed or {}) do
      if f == id then return string_format("'%s' is in both failed and passed", id) end
    end
  end
  -- A failed criterion makes a decision ineligible; a missing field, not
  -- eligible: a case that says otherwise can never pass.
  if case.error == nil and case.outcome ~= "ineligible" and case.failed and case.failed[1] then
    return string_format("outcome %s with failed criteria (%s): a failed criterion makes the decision ineligible",
      case.outcome, table_concat(case.failed, ", "))
  end
  if case.outcome == "eligible" and case.missing and case.missing[1] then
    return string_format("outcome eligible with missing fields (%s): a missing field leaves the decision incomplete, or ineligible",
      table_concat(case.missing, ", "))
  end
  local bad = schema and undeclared(case.applicant, schema, "")
  if bad then return string_format("applicant field '%s' is not declared in the schema: it would be read as absent", bad) end
  if case.history ~= nil then
    if type(case.history) ~= "table" then return "history must be a list of earlier decisions" end
    for j, r in ipairs(case.history) do
      if type(r) ~= "table" then return string_format("history row %d must be a table", j) end
      for _, k in ipairs(sorted_keys(r)) do   -- of two, the same one named in every run
        if not KEYS.history[k] then
          return string_format("history row %d: unknown key '%s' (a row knows %s)", j, tostring(k), KEYS.history_text)
        end
      end
      for _, k in ipairs({ "outcome", "decision_outcome" }) do
        if r[k] ~= nil and not OUTCOMES[r[k]] then
          return string_format("history row %d: %s must be eligible, ineligible or incomplete, got %s", j, k, describe(r[k]))
        end
      end
      if r.decision_outcome ~= nil and (r.outcome == nil or r.decision_outcome == r.outcome) then
        -- The store gives decision_outcome only beside an outcome an override changed.
        return string_format("history row %d: decision_outcome is the outcome an override changed, so it comes with an outcome that differs from it (%s)", j, describe(r.outcome))
      end
      if r.as_of ~= nil and (type(r.as_of) ~= "string" or not c_parse_date(r.as_of)) then
        return string_format("history row %d: as_of must be a date YYYY-MM-DD, got %s", j, describe(r.as_of))
      end
    end
  end
  return nil
end

-- Runs case I: returns its failure (nil when it passed), and whether its
-- request failed (an error code, expected or not).
function api.run_case(i)
  local case = cases[i]
  coverage_errors[i] = nil   -- this run says whether it ends in an error
  local fault = case_fault(case)
  if fault then
    return { file = case.file, line = case.line, msg = string_format("case '%s': %s", tostring(case.name), fault) }
  end
  mark_lists(case.applicant, schema)
  local req = setmetatable({ op = "decide", program = case.program, as_of = case.as_of,
    applicant = case.applicant, lang = case.lang }, { __json = order { "op", "program", "as_of", "applicant", "lang" } })
  local why
  local history
  if case.history ~= nil then
    for _, r in ipairs(case.history) do
      r.decision_id = r.decision_id or "TEST"
      r.decided_at = r.decided_at or (tostring(r.as_of) .. "T00:00:00.000Z")
    end
    history = c_canon(setmetatable(deep_copy(case.history), ARRAY))
  end
  local res = api.request(c_canon(req), nil, nil, nil, nil, history)
  -- Whether the request failed, as engine_request sees it: the one it
  -- decides once more when the memory cap stopped it (engine_test).
  local errored = res.error_code ~= nil
  if not res.error_code then
    -- What the engine refuses once the decision is written (engine.c,
    -- engine_copy_decisions), a case must not pass: the server would
    -- answer every such application with an error.
    for _, n in ipairs(res.decisions or {}) do
      local json = c_decision_json(n)
      local bad = c_utf8_bad(json)
      if bad then
        res = { error_code = "rule_error", error_message = string_format(
          "the decision of programme %s is not UTF-8 text (byte %d of its JSON%s): a rule made a text of other bytes",
          tostring(case.program), bad, C.decision_where(json, bad)) }
        break
      end
    end
  end
  if res.error_code then
    if case.error ~= res.error_code then
      local p = tostring(case.program)
      coverage_errors[i] = p
      why = string_format("expected %s, got error %s: %s",
        case.error and ("error " .. case.error) or ("outcome " .. tostring(case.outcome)), res.error_code, res.error_message)
    end
  elseif case.error then
    why = string_format("expected error %s, got outcome %s", case.error, cjson.decode(c_decision_json(res.decisions[1])).outcome)
  else
    local d = cjson.decode(c_decision_json(res.decisions[1]))   -- as written: the decision's canonical JSON
    local failed_now, missing_now = {}, {}
    for _, r in ipairs(d.criteria) do
      local cov = coverage[coverage_key(d.program, d.program_version, r.id)]
      if r.passed == true then cov.pass = cov.pass + 1
      elseif r.passed == false then cov.fail = cov.fail + 1; failed_now[#failed_now + 1] = r.id end
    end
    for j, m in ipairs(d.missing) do missing_now[j] = m end
    local wrong = {}
    -- A template's {name} that the check's values did not fill is left as
    -- it is, and an applicant would read it: a misspelt name, most likely.
    -- A name is what decision_render takes for one: all up to the next '}'
    -- ({âge}, {x.y}).
    local version
    for _, v in ipairs(programs[d.program] or {}) do
      if v.version == d.program_version then version = v end
    end
    -- Read from the templates or the text itself: a value the message shows
    -- may hold braces of its own ({"sector":"crafts"}), which are no hole.
    -- Every language's template is read, the case's and the others, which
    -- the case does not render: a French "{dat}" for "{date}" would reach
    -- French readers only.
    local lang = case.lang or "en"
    for _, r in ipairs(d.criteria) do
      local c = (r.passed == true or r.passed == false) and version and version.by_id[r.id]   -- not missing
      local texts
      if c and r.passed == true then texts = c.pass elseif c then texts = c.fail end
      local values = type(r.values) == "table" and r.values or {}
      for _, l in ipairs(LANGS) do
        local t = type(texts) == "table" and texts[l]
        if l == lang then
          t = text_in(texts, l)   -- the case's: English when it has none
        elseif l == "en" and type(texts) == "table" and texts[lang] == nil then
          t = nil                 -- read as the case's already
        end
        for name in string_gmatch(type(t) == "string" and t or "", "{([^}]*)}") do
          -- {x|field} shows x (see decision_render)
          if values[name] == nil and values[string_match(name, "^([^|]*)|") or name] == nil then
            wrong[#wrong + 1] = string_format("criterion %s's %smessage leaves {%s} unfilled: its check returned no value of that name",
              r.id, l == lang and "" or l .. " ", name)
          end
        end
      end
      if c and type(text_in(texts, lang)) ~= "string" then
        -- No template: the message is the criterion's text, whose braces
        -- name parameters, never the check's values.
        local text = text_in(c.text, lang)
        for name in string_gmatch(type(text) == "string" and text or "", "{([^}]*)}") do
          local v = param_on(name, case.as_of)   -- {name|field} shows name's value (text_on)
          if v == nil then v = param_on(string_match(name, "^([^|]*)|"), case.as_of) end
          if type(v) ~= "number" and type(v) ~= "string" then
            wrong[#wrong + 1] = string_format("criterion %s's text leaves {%s} unfilled: it names no parameter with a number or a text in force on %s", r.id, name, case.as_of)
          end
        end
      end
    end
    if d.outcome ~= case.outcome then
      wrong[#wrong + 1] = string_format("outcome: expected %s, got %s", tostring(case.outcome), d.outcome)
    end
    local known = {}
    for _, r in ipairs(d.criteria) do known[r.id] = r end
    for _, k in ipairs({ "failed", "passed" }) do
      local strangers = {}
      for _, id in ipairs(case[k] or {}) do
        if not known[id] then strangers[#strangers + 1] = id end
      end
      if #strangers > 0 then
        wrong[#wrong + 1] = string_format("%s names %s, which %s %s has no criterion of", k, list_text(strangers), d.program, d.program_version)
      end
    end
    -- passed: criteria the case shows passing (an outcome alone may not:
    -- another criterion's failure or missing data can hide how one went).
    local unpassed = {}
    for _, id in ipairs(case.passed or {}) do
      local r = known[id]
      if r and r.passed ~= true then
        unpassed[#unpassed + 1] = string_format("%s %s", id, r.passed == false and "failed" or "was missing data")
      end
    end
    if #unpassed > 0 then
      wrong[#wrong + 1] = string_format("passed: expected to pass, but %s", table_concat(unpassed, ", "))
    end
    if not same_set(case.failed or {}, failed_now) then
      wrong[#wrong + 1] = string_format("failed: expected %s, got %s", list_text(case.failed), list_text(failed_now))
    end
    if case.missing and not same_set(case.missing, missing_now) then
      wrong[#wrong + 1] = string_format("missing: expected %s, got %s", list_text(case.missing), list_text(missing_now))
    end
    if #wrong > 0 then
      local msgs = {}
      for _, r in ipairs(d.criteria) do
        if r.passed ~= true then msgs[#msgs + 1] = "    " .. r.id .. ": " .. r.message end
      end
      why = table_concat(wrong, "; ") .. (#msgs > 0 and ("\n" .. table_concat(msgs, "\n")) or "")
    end
  end
  if why then
    return { file = case.file, line = case.line, msg = string_format("case '%s': %s", tostring(case.name), why) }, errored
  end
  return nil, errored
end

-- Case I's run was stopped by the budget, the memory cap or the time
-- limit (no rule's pcall can catch them), or broke what no case may change:
-- the request would have been answered error CODE with MSG.  Returns nil
-- when the case expects that error, else its failure, as run_case says one.
function api.case_aborted(i, code, msg)
  local case = cases[i]
  if case.error == code then return nil end
  coverage_errors[i] = tostring(case.program)
  return { file = case.file, line = case.line, msg = string_format("case '%s': expected %s, got error %s: %s",
    tostring(case.name), case.error and ("error " .. case.error) or ("outcome " .. tostring(case.outcome)), code, msg) }
end

-- Criteria that no case made fail, or pass.
function api.coverage_notes()
  local notes, keys, errors = {}, {}, {}
  for _, p in pairs(coverage_errors) do errors[p] = (errors[p] or 0) + 1 end
  for k in pairs(coverage) do keys[#keys + 1] = k end
  table_sort(keys)
  for _, k in ipairs(keys) do
    local c = coverage[k]
    local n = errors[c.program]
    local but = n and string_format(" (but %d case%s of %s ended in an error: what %s would show is not known)",
      n, n == 1 and "" or "s", c.program, n == 1 and "it" or "they") or ""
    if c.fail == 0 then notes[#notes + 1] = { file = c.file, line = c.line, msg = "criterion " .. c.name .. " fails in no case" .. but } end
    if c.pass == 0 then notes[#notes + 1] = { file = c.file, line = c.line, msg = "criterion " .. c.name .. " passes in no case" .. but } end
  end
  return notes
end

-- decision.c may keep what it reads of each criterion (its id, check and
-- message templates) rather than read the criterion and parse its template on
-- every decision, provided those reads give the same every time.  They do when
-- no metamethod can run on the way: every table of a declaration (programme,
-- criterion, texts) then holds plain values, and is either frozen (it cannot
-- change) or out of every rule's reach (invariant 2).  One metamethod on any
-- of them is rule code that could change what another criterion reads, so
-- then nothing is kept.  Returns the table whose raw reads are T's reads, or
-- nil when a read of T could run a metamethod or give a table.
-- The metatable T had before it was frozen, or has.
local function own_metatable(t)
  if frozen[t] then return frozen_mt[t] end
  return debug_getmetatable(t)
end

local function plain_contents(t)
  local s = frozen[t] or t
  if own_metatable(t) ~= nil then return nil end
  for _, v in next, s do
    if type(v) == "table" or type(v) == "userdata" then return nil end
  end
  return s
end

local function plain_declaration(t, tag)
  local s = frozen[t] or t
  local mt = own_metatable(t)
  if mt ~= nil and mt ~= tag then return nil end   -- the tag is protected (__metatable)
  for k, v in next, s do
    if type(k) == "table" or type(k) == "userdata" then return nil end
    if (type(v) == "table" or type(v) == "userdata") and not plain_contents(v) then return nil end
  end
  return s
end

-- A programme version is rules.lua's own table; what the rule file gave it
-- (its title, its reference) must be plain.
local function plain_program(p)
  for k, v in next, p do
    if k ~= "criteria" and k ~= "by_id" and type(v) == "table" and not plain_contents(v) then return false end
  end
  return true
end

-- As decision_message finds it: TEXTS[lang], or TEXTS.en; false when
-- message() writes the message.
local function kept_template(texts, lang)
  if type(texts) ~= "table" then return false end
  local s = frozen[texts] or texts
  local t = rawget(s, lang)
  if t == nil or t == false then t = rawget(s, "en") end
  return type(t) == "string" and t
end

local function keep_criteria()
  local kept = {}
  for _, id in ipairs(program_order) do
    for _, p in ipairs(programs[id]) do
      if not plain_program(p) then return end
      local crits = {}
      for i, c in ipairs(p.criteria) do
        local s = plain_declaration(c, CRITERION_TAG)
        if not s then return end
        local cid = rawget(s, "id")
        if type(cid) ~= "string" then crits = false end
        if crits then
          local pass, fail = rawget(s, "pass"), rawget(s, "fail")
          crits[i] = { cid, rawget(s, "check"),
            kept_template(fail, "en"), kept_template(fail, "fr"), kept_template(fail, "ar"),
            kept_template(pass, "en"), kept_template(pass, "fr"), kept_template(pass, "ar") }
        end
      end
      if crits then kept[#kept + 1] = { p, crits } end
    end
  end
  for _, k in ipairs(kept) do c_keep(k[1], k[2], RULESET, WORDS.labels) end
end

-- This part comes last, so that the lines of rules.lua that errors name (the
-- instruction budget can run out in any of its functions) stay where they were.
local seal_set = api.seal
function api.seal(ruleset_hash)
  seal_set(ruleset_hash)
  each_text_brace(function(_, _, _, t, name)
    if params[name] or params[string_match(name, "^([^|]*)|")] then param_texts[t] = true end
  end)
  keep_criteria()
  c_keep_params()
  -- In the order of the source (file, line defined, local): of several
  -- locals one request changed, after() names the same in every run, where
  -- the walk met functions kept as a table's keys in no fixed order.
  table_sort(watched, function(a, b)
    if a.file ~= b.file then return a.file < b.file end
    if a.line ~= b.line then return a.line < b.line end
    if a.name ~= b.name then return a.name < b.name end
    return a.i < b.i
  end)
  for k, w in ipairs(watched) do
    local n = 3 * (k - 1)
    watched_flat[n + 1], watched_flat[n + 2], watched_flat[n + 3] = w.f, w.i, w.value
  end
  fast_request = C.fast_request(decode, c_prepare, c_fuse, schema, programs, program_order, decide, fail, current)
  c_prepare(nil, schema, "")   -- the schema compiled, its records' metatables made (applicant.c)
  -- engine.c looks for a changed upvalue itself after each request (no Lua
  -- call), and calls after() only when it finds one, to restore and report it.
  api.watched, api.watched_count = watched_flat, #watched
end


-- A parameter's value changes by a new dated value, never by an edit of an
-- old one: decisions already made on the old one's dates would now be made
-- otherwise.  param_values gives the set's values for param_edits to compare
-- a later set with (eligo check --against).  (Functions of api, not
-- locals: the main chunk is at Lua's limit of 200 locals.)

-- The dated values of every parameter, as canonical JSON:
-- { name = { {from, to, value}, ... } }, each value as its canonical JSON text.
function api.param_values()
  local out = {}
  for name, p in pairs(params) do
    local list = {}
    for i, v in ipairs(p.values) do list[i] = { from = v.from, to = v.to, value = c_canon(v.value) } end
    out[name] = list
  end
  return c_canon(out)
end

-- Each stretch of days up to TODAY ("YYYY-MM-DD") where a parameter that
-- both sets declare had a value in the set before (OLD_JSON, param_values')
-- and now has another, or none: a warning at the value in force now at the
-- stretch's start (or at the parameter).  Days after TODAY are not decided
-- yet: a change there is the author's to make.
function api.param_edits(old_json, today)
  -- The value in force on DAY among VALUES (sorted by from): its record.
  local function in_force(values, day)
    return select(3, param_on({ values = values }, day))
  end
  local old, out, names = cjson.decode(old_json), {}, {}
  for name in pairs(params) do
    if type(old[name]) == "table" then names[#names + 1] = name end
  end
  table_sort(names)
  for _, name in ipairs(names) do
    local p, was = params[name], old[name]
    -- The days either set's value in force may change on: each from, and
    -- each day after a to.
    local starts, seen = {}, {}
    for _, list in ipairs({ was, p.values }) do
      for _, v in ipairs(list) do
        for _, d in ipairs({ v.from, v.to and c_add_days(v.to, 1) or false }) do
          if d and d > "0001" and d <= today and not seen[d] then seen[d] = true; starts[#starts + 1] = d end
        end
      end
    end
    table_sort(starts)
    local open   -- the stretch being followed: { from, before, now, v }
    local function close(to)
      out[#out + 1] = { file = p.file, warning = true,
        line = open.v and key_line(p.file, p.line, "parameter", name, nil, open.v.n) or p.line,
        msg = string_format("parameter '%s': from %s to %s its value was %s and %s: decisions of those "
          .. "dates already made would now be made otherwise; a change is a new dated value, from the day it applies",
          name, open.from, to, open.before, open.now and "is now " .. open.now or "it now has none") }
      open = nil
    end
    for _, d in ipairs(starts) do
      local o, v = in_force(was, d), in_force(p.values, d)
      local before, now = o and o.value, v and c_canon(v.value)
      local differs = before ~= nil and before ~= now
      if open and (not differs or open.before ~= before or open.now ~= now) then close(c_add_days(d, -1)) end
      if differs and not open then open = { from = d, before = before, now = now, v = v } end
    end
    if open then close(today) end
  end
  return out
end

return api
