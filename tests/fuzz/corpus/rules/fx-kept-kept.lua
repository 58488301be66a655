-- Programme "kept": decision.c keeps what it reads of these criteria (id,
-- check, templates split at their names); the decisions must read as they
-- did when it read them every time.
local TEXT = { en = "Size at most 3", fr = "Taille d'au plus 3", ar = "الحجم 3 على الأكثر" }
local REF = "tests/unit/engine.c"

local quoted
quoted = criterion 'a"b' {            -- its check reaches it: frozen at seal
  text = TEXT, reference = REF,
  pass = { en = "{size}{size} {unclosed", fr = "{}{{size}}", ar = "x {size}" },
  fail = { en = "plain", fr = false },  -- fr false, ar absent: English
  check = function(a)
    return a.size <= 3 and quoted.id == 'a"b', { size = a.size, [""] = "empty" }
  end,
}

program "kept" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,
  quoted,
  criterion "no_values" {
    text = TEXT, reference = REF,
    pass = { en = "{size} passed", fr = "{size} réussi", ar = "{size}" },
    fail = "not a table of texts",      -- message() writes it
    check = function(a) return a.size <= 3 end,
  },
}

-- Programme "dated": a parameter with a gap between its dated values, which
-- param() finds in what decision.c kept of it at seal.
parameter "kept.dated" {
  reference = REF,
  { from = "2000-01-01", to = "2024-12-31", value = 1 },
  { from = "2026-01-01", value = 3 },
}

program "dated" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,
  criterion "dated" {
    text = TEXT, reference = REF,
    check = function(a) return param "kept.dated" <= a.size end,
  },
}

-- Programme "keys": values tables that are not objects of string keys.
program "keys" {
  version = "1", from = "2000-01-01", title = TEXT, reference = REF,
  criterion "keys" {
    text = TEXT, reference = REF,
    check = function(a)
      if a.size == 1 then return true, { list = { [1] = "a", x = "b" }, empty = {} } end
      return true, { bad = { [2] = "a", x = "b" } }
    end,
  },
}

-- Programme 'k"e\y': an id and a version that JSON escapes, written from
-- what decision.c kept of them at seal.
program 'k"e\\y' {
  version = '2"', from = "2000-01-01", title = TEXT, reference = REF,
  criterion "escaped" {
    text = TEXT, reference = REF,
    check = function(a) return a.size <= 3 end,
  },
}
