-- Programme "versioned": two versions with a gap in 2021 between them.
local TEXT = { en = "versioned", fr = "versionné", ar = "بإصدارات" }
local REF = "tests/unit/engine.c"

program "versioned" {
  version = "2020.1", from = "2020-01-01", to = "2020-12-31", title = TEXT, reference = REF,
  criterion "always" { text = TEXT, reference = REF, check = function() return true end },
}
program "versioned" {
  version = "2022.1", from = "2022-01-01", title = TEXT, reference = REF,
  criterion "always" { text = TEXT, reference = REF, check = function() return true end },
}
