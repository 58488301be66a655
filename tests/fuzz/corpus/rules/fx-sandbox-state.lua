-- Programme "state": checks that try to keep state from one request to the
-- next.  Each criterion reports, in its values, what it can see of earlier
-- requests; a fresh engine sees nothing (0 or nil).  The applicant_id names
-- the trick a request plays; any other id only looks.  A marker "@<id>" is on
-- the line an error must name: where the state is written, or, for state
-- kept in an upvalue (found only after the request), the line of the
-- function whose upvalue it is.

local TEXT = { en = "state", fr = "état", ar = "حالة" }
local REF = "tests/unit/engine.c"

local count = 0                      -- an upvalue of the counter check
local seen = {}                      -- a file-level table
local hits = 0                       -- an upvalue of a metatable's __index only
-- lazy.hits reads the count; any other key counts one more.
local lazy = setmetatable({}, { __index = function(_, k)                      -- @metatable_upvalue
  if k == "hits" then return hits end
  hits = hits + 1
  return k
end })
local guarded = setmetatable({ n = 0 }, { __metatable = "mine" })
local asked = 0                      -- an upvalue of a message table's __index only
-- A message in any language but English is looked up through __index, which counts.
local COUNTED = setmetatable({ en = "state" }, { __index = function()         -- @texts_upvalue
  asked = asked + 1
  return "state"
end })
local last                           -- an upvalue that starts nil ...
local limit = 10                     -- ... and one watched after it

program "state" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,

  criterion "counter" {
    text = TEXT, reference = REF,
    check = function(a)                                                          -- @counter
      if a.applicant_id == "counter" then count = count + 1 end
      return true, { count = count }
    end,
  },
  criterion "counter_loop" {
    text = TEXT, reference = REF,
    check = function(a)
      -- Keeps state, then runs out of instructions before the request ends.
      if a.applicant_id == "counter_loop" then
        count = count + 1
        while true do end                                                        -- @counter_loop
      end
      return true
    end,
  },
  criterion "table" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id == "table" then seen[#seen + 1] = a.applicant_id end    -- @table
      return true, { seen = #seen }
    end,
  },
  criterion "metatable_upvalue" {
    text = TEXT, reference = REF,
    check = function(a)
      -- Closes over lazy only, not over hits.
      if a.applicant_id == "metatable_upvalue" then local _ = lazy.x end
      return true, { hits = lazy.hits }
    end,
  },
  criterion "nil_upvalue" {
    text = TEXT, reference = REF,
    check = function(a)                                                          -- @nil_upvalue
      if a.applicant_id == "nil_upvalue" then last = a.applicant_id end
      return true, { last = last or "none", limit = limit }
    end,
  },
  criterion "two_upvalues" {
    text = TEXT, reference = REF,
    check = function(a)
      -- Changes two upvalues in one request, the second (limit) watched long
      -- after the first: after() must put back both.
      if a.applicant_id == "two_upvalues" then count = count + 1; limit = limit + 1 end
      return true, { count = count, limit = limit }
    end,
  },
  criterion "guarded" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id == "guarded" then guarded.n = guarded.n + 1 end         -- @guarded
      return true, { n = guarded.n }
    end,
  },
  criterion "record_metatable" {
    text = TEXT, reference = REF,
    check = function(a)
      -- The applicant's metatable is the engine's, shared by every request:
      -- changed here, an absent field would read 99 from then on.
      if a.applicant_id == "record_metatable" then
        getmetatable(a).__index = function() return 99 end                      -- @record_metatable
      end
      return true
    end,
  },
  criterion "signal" {
    text = TEXT, reference = REF,
    check = function(a)
      -- The missing-data signal reaches a handler of the rule's own xpcall;
      -- its metatable must not carry anything from one request to the next.
      local before
      xpcall(function() return a.age end, function(e)
        local mt = getmetatable(e)
        before = type(mt) == "table" and mt.seen or 0
        if a.applicant_id == "signal" and type(mt) == "table" then mt.seen = before + 1 end   -- @signal
        return "handled"   -- not the signal: the check goes on
      end)
      return true, { seen = before }
    end,
  },
  criterion "declares" {
    text = TEXT, reference = REF,
    check = function(a)
      -- A declaration while deciding would add to the set every later
      -- request uses.
      if a.applicant_id == "declares" then
        parameter "state.late" { reference = REF, { from = "2000-01-01", value = 1 } }   -- @declares
      end
      return true
    end,
  },
  criterion "declares_program" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id == "declares_program" then
        program "late" { version = "1", from = "2000-01-01", title = TEXT, reference = REF }   -- @declares_program
      end
      return true
    end,
  },
  criterion "criterion_tag" {
    text = TEXT, reference = REF,
    check = function(a)
      -- Every criterion shares one metatable: not the rules' to write into.
      if a.applicant_id == "criterion_tag" then
        local c = criterion "x" { text = TEXT, reference = REF, check = function() return true end }
        getmetatable(c).seen = true                                              -- @criterion_tag
      end
      return true
    end,
  },
  criterion "texts_upvalue" {
    text = TEXT, reference = REF, pass = COUNTED,
    check = function() return true end,
  },
  criterion "finalizer" {
    text = TEXT, reference = REF,
    check = function(a)
      -- A finalizer would run in whichever later request collects the table.
      if a.applicant_id == "finalizer" then
        setmetatable({}, { __gc = function() end })                            -- @finalizer
      end
      return true
    end,
  },
  criterion "list_metatable" {
    text = TEXT, reference = REF,
    check = function(a)
      -- Every list of every request shares one metatable, which also says how
      -- it is written as JSON: not the rules' to change.
      if a.applicant_id == "list_metatable" then
        getmetatable(a.tags).__json = nil                                        -- @list_metatable
      end
      return true
    end,
  },
  criterion "type_metatable" {
    text = TEXT, reference = REF,
    check = function(a)
      -- Likewise the metatable of the schema's types.
      if a.applicant_id == "type_metatable" then
        getmetatable(list("text")).seen = true                                   -- @type_metatable
      end
      return true
    end,
  },
  criterion "reads_age" {
    text = TEXT, reference = REF,
    check = function(a)
      return true, { age = a.age }
    end,
  },
}
