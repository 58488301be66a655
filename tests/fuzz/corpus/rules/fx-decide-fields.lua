-- Programme "fields": how checks see null, absent, nested and undeclared
-- fields.
local TEXT = { en = "fields", fr = "champs", ar = "حقول" }
local REF = "tests/unit/engine.c"

program "fields" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,

  criterion "since" {                 -- null is known: the check reads nil
    text = TEXT, reference = REF,
    check = function(a) return a.since == nil, { since = a.since or "nil" } end,
  },
  criterion "sector" {                -- a nested field
    text = TEXT, reference = REF,
    check = function(a)
      local b = a.business
      if b == nil then return false, { sector = "none" } end
      return b.sector == "digital", { sector = b.sector }
    end,
  },
  criterion "undeclared" {            -- reads a field the schema does not declare
    text = TEXT, reference = REF,
    check = function(a)
      if a.applicant_id ~= "undeclared" then return true end
      return a.nickname ~= nil                                                   -- @undeclared
    end,
  },
}
