-- Programme "limits": checks that run out of instructions or memory, or
-- raise, when the applicant_id names them; otherwise they pass.  Lines marked
-- "@<criterion id>" are the ones the errors must name.

local TEXT = { en = "limit", fr = "limite", ar = "حد" }
local REF = "tests/unit/engine.c"

program "limits" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,

  criterion "loop" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "loop" then return true end
      while true do end                                                          -- @loop
    end,
  },
  criterion "pcall_loop" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "pcall_loop" then return true end
      -- The rule's own pcall must not swallow the abort: if it did, the
      -- check would go on and pass.
      for _ = 1, 3 do
        pcall(function() while true do end end)                                  -- @pcall_loop
      end
      return true
    end,
  },
  criterion "recursion" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "recursion" then return true end
      local function deeper(n) return deeper(n + 1) + 1 end                      -- @recursion
      return deeper(1) > 0
    end,
  },
  criterion "param_undeclared" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "param_undeclared" then return true end
      local name = "limits." .. "nope"      -- made at run time: lint cannot see it
      return param(name) > 0                                                     -- @param_undeclared
    end,
  },
  criterion "param_tail" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "param_tail" then return true end
      local name = "limits." .. "nope"
      return param(name)                                                         -- @param_tail
    end,
  },
  criterion "work" {
    text = TEXT, reference = REF,
    check = function(a)
      -- A bounded loop of a.age iterations: within the default budget for
      -- 100000, over a budget of 20000.
      if a.applicant_id ~= "work" then return true end
      local sum = 0
      for i = 1, a.age do sum = sum + i end                                      -- @work
      return sum > 0, { sum = sum }
    end,
  },
  criterion "alloc" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "alloc" then return true end
      local s = "x"
      while true do s = s .. s end                                               -- @alloc
    end,
  },
  criterion "alloc_pcall" {
    text = TEXT, reference = REF,
    check = function(a)
      -- Fills the memory inside pcall, and again when pcall has caught the
      -- error: each try would cost a full collection, unseen by the budget.
      if a.applicant_id ~= "alloc_pcall" then return true end
      while true do
        pcall(function()
          local t = {}
          for i = 1, 1e9 do t[i] = string.rep("x", 1 << 20) end                  -- @alloc_pcall
        end)
      end
    end,
  },
  criterion "alloc_xpcall" {
    text = TEXT, reference = REF,
    check = function(a)
      -- The same through xpcall, whose handler Lua does not call for memory.
      if a.applicant_id ~= "alloc_xpcall" then return true end
      while true do
        xpcall(function()
          local t = {}
          for i = 1, 1e9 do t[i] = string.rep("y", 1 << 20) end                  -- @alloc_xpcall
        end, function(e) return e end)
      end
    end,
  },
  criterion "rep" {
    text = TEXT, reference = REF,
    check = function(a)
      -- a.age strings of 16 MiB, a few instructions each: the bytes are paid
      -- for in instructions, 131,072 a string.
      if a.applicant_id ~= "rep" then return true end
      local s
      for _ = 1, a.age do s = string.rep("x", 16 << 20) end                      -- @rep
      return #s > 0, { n = a.age }
    end,
  },
  criterion "big" {
    text = TEXT, reference = REF,
    check = function(a)
      -- a.age MiB in one string: a large request that fits under the cap
      -- only when the memory of earlier requests has been given back.
      if a.applicant_id ~= "big" then return true end
      local s = string.rep("x", a.age << 20)
      return #s == a.age << 20, { length = #s }
    end,
  },
  criterion "raise" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "raise" then return true end
      error("the rule raised this on purpose")                                   -- @raise
    end,
  },
}
