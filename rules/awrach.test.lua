-- Test cases for awrach.lua.  Every expected value below was worked out by
-- hand from the programme's conditions; the comment on a case shows the working.

local ON = "2025-03-01"

-- Eligible on ON: aged 44, unemployed, 3,000 MAD a month for a household of
-- 4 (750 per person, within 1,500).
local base = {
  applicant_id = "T-AWRACH",
  birth_date = "1980-06-01",
  nationality = "MA",
  residence = "MA",
  region = "Oriental",
  education = "primary",
  registered_with_agency = false,
  employment_status = "unemployed",
  unemployed_since = null,
  monthly_household_income = 3000,
  household_size = 4,
  disability = false,
  in_training = false,
  business = null,
  previous_benefits = { { program = "awrach", date = "2024-03-01" } },
}

-- The base applicant with this income for a household of SIZE.
local function household(income, size)
  return with(base, { monthly_household_income = income, household_size = size })
end

case "the base applicant is eligible" {
  program = "awrach", as_of = ON,
  applicant = base,
  outcome = "eligible",
}

-- [age] at least 18, no upper limit.

case "age: 18th birthday the day after the decision, still 17" {
  program = "awrach", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-02" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 18th birthday on the decision date" {
  program = "awrach", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-01" }),
  outcome = "eligible",
}
case "age: 18th birthday the day before the decision" {
  program = "awrach", as_of = ON,
  applicant = with(base, { birth_date = "2007-02-28" }),
  outcome = "eligible",
}
case "age: born 29 February 2008, still 17 on 28 February 2026" {
  program = "awrach", as_of = "2026-02-28",
  applicant = with(base, { birth_date = "2008-02-29" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: born 29 February 2008, 18 on 1 March 2026" {
  program = "awrach", as_of = "2026-03-01",
  applicant = with(base, { birth_date = "2008-02-29" }),
  outcome = "eligible",
}
case "age: no upper limit at 70" {
  program = "awrach", as_of = ON,
  applicant = with(base, { birth_date = "1955-01-01" }),
  outcome = "eligible",
}

-- [unemployed]

case "unemployed: an employed applicant" {
  program = "awrach", as_of = ON,
  applicant = with(base, { employment_status = "employed" }),
  outcome = "ineligible", failed = { "unemployed" },
}
case "unemployed: a self-employed applicant" {
  program = "awrach", as_of = ON,
  applicant = with(base, { employment_status = "self_employed" }),
  outcome = "ineligible", failed = { "unemployed" },
}

-- [income] income / size <= 1,500 MAD from 2025-01-01, compared exactly as
-- income <= 1,500 x size in centimes.

case "income: exactly 1,500 per person (6,000 for 4)" {
  program = "awrach", as_of = ON,
  applicant = household(6000, 4),
  outcome = "eligible",
}
case "income: one centime above 1,500 per person for 4 (6,000.01)" {
  program = "awrach", as_of = ON,
  applicant = household(6000.01, 4),
  outcome = "ineligible", failed = { "income" },
}
case "income: exactly 1,500 per person (4,500 for 3)" {
  program = "awrach", as_of = ON,
  applicant = household(4500, 3),
  outcome = "eligible",
}
-- 450,001 centimes > 150,000 x 3 = 450,000, although 4,500.01 / 3 rounds to 1,500.00.
case "income: 4,500.01 for 3 is above 1,500 per person" {
  program = "awrach", as_of = ON,
  applicant = household(4500.01, 3),
  outcome = "ineligible", failed = { "income" },
}
case "income: exactly 1,500 for one person" {
  program = "awrach", as_of = ON,
  applicant = household(1500, 1),
  outcome = "eligible",
}
case "income: one centime above 1,500 for one person" {
  program = "awrach", as_of = ON,
  applicant = household(1500.01, 1),
  outcome = "ineligible", failed = { "income" },
}
case "income: no income at all" {
  program = "awrach", as_of = ON,
  applicant = household(0, 5),
  outcome = "eligible",
}

-- Effective dating: the per-person ceiling was 1,200 MAD until 2024-12-31 and
-- is 1,500 MAD from 2025-01-01.

case "dating: 1,200 per person on 31 December 2024 is within the old ceiling" {
  program = "awrach", as_of = "2024-12-31",
  applicant = household(4800, 4),
  outcome = "eligible",
}
case "dating: 1,200.01 per person on 31 December 2024 is above the old ceiling" {
  program = "awrach", as_of = "2024-12-31",
  applicant = household(1200.01, 1),
  outcome = "ineligible", failed = { "income" },
}
case "dating: 1,500 per person on 31 December 2024 is above the old ceiling" {
  program = "awrach", as_of = "2024-12-31",
  applicant = household(6000, 4),
  outcome = "ineligible", failed = { "income" },
}
case "dating: 1,500 per person on 1 January 2025 is within the new ceiling" {
  program = "awrach", as_of = "2025-01-01",
  applicant = household(6000, 4),
  outcome = "eligible",
}
case "dating: the old ceiling on the programme's first day" {
  program = "awrach", as_of = "2022-01-01",
  applicant = household(2400, 2),
  outcome = "eligible",
}

case "dating: no version of the programme is in force before 1 January 2022" {
  program = "awrach", as_of = "2021-12-31",
  applicant = base,
  error = "unknown_program",
}

case "every criterion fails" {
  program = "awrach", as_of = ON,
  applicant = with(base, {
    birth_date = "2010-09-09",            -- 14
    employment_status = "student",
    monthly_household_income = 9000,      -- 3,000 per person
    household_size = 3,
  }),
  outcome = "ineligible",
  failed = { "age", "unemployed", "income" },
}

-- Missing data, and null against absent.

case "missing: household size absent" {
  program = "awrach", as_of = ON,
  applicant = with(base, { household_size = absent }),
  outcome = "incomplete", missing = { "household_size" },
}
case "missing: household income absent" {
  program = "awrach", as_of = ON,
  applicant = with(base, { monthly_household_income = absent }),
  outcome = "incomplete", missing = { "monthly_household_income" },
}
case "missing: employment status and birth date absent" {
  program = "awrach", as_of = ON,
  applicant = with(base, { employment_status = absent, birth_date = absent }),
  outcome = "incomplete", missing = { "birth_date", "employment_status" },
}
case "null: a null employment status is invalid, the field is not nullable" {
  program = "awrach", as_of = ON,
  applicant = with(base, { employment_status = null }),
  error = "invalid_applicant",
}

-- Invalid applicants.

case "invalid: an impossible birth date" {
  program = "awrach", as_of = ON,
  applicant = with(base, { birth_date = "2023-02-30" }),
  error = "invalid_applicant",
}
case "invalid: a household size that is not a whole number" {
  program = "awrach", as_of = ON,
  applicant = with(base, { household_size = 2.5 }),
  error = "invalid_applicant",
}
case "invalid: a household size given as text" {
  program = "awrach", as_of = ON,
  applicant = with(base, { household_size = "4" }),
  error = "invalid_applicant",
}
case "invalid: an income given as text" {
  program = "awrach", as_of = ON,
  applicant = with(base, { monthly_household_income = "3000" }),
  error = "invalid_applicant",
}
case "invalid: an income with three decimals" {
  program = "awrach", as_of = ON,
  applicant = with(base, { monthly_household_income = 1500.005 }),
  error = "invalid_applicant",
}
