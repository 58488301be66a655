-- Programme "logic": three criteria, each reading one field, so that a
-- request picks which pass, fail or are missing.
local TEXT = { en = "logic", fr = "logique", ar = "منطق" }
local REF = "tests/unit/engine.c"

program "logic" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,

  criterion "score" {                 -- passes when score >= 10
    text = TEXT, reference = REF,
    check = function(a) return a.score >= 10, { score = a.score } end,
  },
  criterion "member" {                -- passes when member is true
    text = TEXT, reference = REF,
    check = function(a) return a.member == true end,
  },
  criterion "size" {                  -- passes when size <= 4
    text = TEXT, reference = REF,
    check = function(a) return a.size <= 4, { size = a.size } end,
  },
}
