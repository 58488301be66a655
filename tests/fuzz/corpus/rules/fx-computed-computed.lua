-- Programme "computed": its pass texts come from an __index metamethod, so
-- that no read of a criterion may be kept; each decision runs it.
local TEXT = { en = "Size at most 3", fr = "Taille d'au plus 3", ar = "الحجم 3 على الأكثر" }
local REF = "tests/unit/engine.c"

program "computed" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,
  criterion "size" {
    text = TEXT, reference = REF,
    pass = setmetatable({ en = "passed with {size}" },
      { __index = function(_, lang) return "passed in " .. lang .. " with {size}" end }),
    check = function(a) return a.size <= 3, { size = a.size } end,
  },
}
