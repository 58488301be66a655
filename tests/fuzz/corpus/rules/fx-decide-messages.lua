-- Programme "messages": templates in three languages, filled from the
-- values the check returns.
local TEXT = { en = "Size at most 3", fr = "Taille d'au plus 3", ar = "الحجم 3 على الأكثر" }
local REF = "tests/unit/engine.c"

program "messages" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,

  criterion "size" {
    text = TEXT, reference = REF,
    fail = { en = "size {size} is above {max}", fr = "la taille {size} dépasse {max}",
             ar = "الحجم {size} يتجاوز {max}" },
    pass = { en = "size {size} is within {max}", fr = "la taille {size} ne dépasse pas {max}",
             ar = "الحجم {size} لا يتجاوز {max}" },
    check = function(a) return a.size <= 3, { size = a.size, max = 3 } end,
  },
  criterion "order" {                 -- values given in no particular order
    text = TEXT, reference = REF,
    check = function(a)
      return true, { zeta = 1, alpha = a.size, mid = "m", beta = 2.5, omega = true }
    end,
  },
}
