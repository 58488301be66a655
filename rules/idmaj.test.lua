-- Test cases for idmaj.lua.  Every expected value below was worked out by hand
-- from the programme's conditions; the comment on a case shows the working.

local ON = "2025-03-01"

-- Eligible on ON: aged 26, bac+2, registered, unemployed for 8 whole months
-- (2024-06-15 to 2025-03-01: nine month-steps, and the 1st has not reached the
-- 15th), and the only earlier benefit is from another programme.
local base = {
  applicant_id = "T-IDMAJ",
  birth_date = "1998-05-10",
  nationality = "MA",
  residence = "MA",
  region = "Casablanca-Settat",
  education = "bac+2",
  registered_with_agency = true,
  employment_status = "unemployed",
  unemployed_since = "2024-06-15",
  monthly_household_income = 4200,
  household_size = 4,
  disability = false,
  in_training = false,
  business = null,
  previous_benefits = { { program = "taehil", date = "2024-01-15" } },
}

-- A list of earlier benefits holding one IDMAJ benefit on DATE.
local function idmaj_on(date)
  return { { program = "taehil", date = "2024-01-15" }, { program = "idmaj", date = date } }
end

case "the base applicant is eligible" {
  program = "idmaj", as_of = ON,
  applicant = base,
  outcome = "eligible",
}

-- [age] 18 to 35, in whole years by calendar date.

case "age: 18th birthday the day after the decision, still 17" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-02" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 18th birthday on the decision date" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-01" }),
  outcome = "eligible",
}
case "age: 18th birthday the day before the decision" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "2007-02-28" }),
  outcome = "eligible",
}
case "age: 36th birthday the day after the decision, still 35" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "1989-03-02" }),
  outcome = "eligible",
}
case "age: 36th birthday on the decision date" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "1989-03-01" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 36th birthday the day before the decision" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "1989-02-28" }),
  outcome = "ineligible", failed = { "age" },
}

-- Born on 29 February: a year older on 1 March in a common year, on
-- 29 February in a leap year.  (Unemployed since 2024-06-15: 20 months on
-- 2026-02-28, 44 months on 2028-02-28.)
case "age: born 29 February, still 17 on 28 February of a common year" {
  program = "idmaj", as_of = "2026-02-28",
  applicant = with(base, { birth_date = "2008-02-29" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: born 29 February, 18 on 1 March of a common year" {
  program = "idmaj", as_of = "2026-03-01",
  applicant = with(base, { birth_date = "2008-02-29" }),
  outcome = "eligible",
}
case "age: born 29 February, still 35 on 28 February of a leap year" {
  program = "idmaj", as_of = "2028-02-28",
  applicant = with(base, { birth_date = "1992-02-29" }),
  outcome = "eligible",
}
case "age: born 29 February, 36 on 29 February of a leap year" {
  program = "idmaj", as_of = "2028-02-29",
  applicant = with(base, { birth_date = "1992-02-29" }),
  outcome = "ineligible", failed = { "age" },
}

-- [registered]

case "registered: not registered with the agency" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { registered_with_agency = false }),
  outcome = "ineligible", failed = { "registered" },
}

-- [education] at least bac.  (bac and secondary are below bac+3, so the
-- 8 months of unemployment are what meet [waiting].)

case "education: bac exactly is enough" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { education = "bac" }),
  outcome = "eligible",
}
case "education: secondary is below bac" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { education = "secondary" }),
  outcome = "ineligible", failed = { "education" },
}
case "education: none is below bac" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { education = "none" }),
  outcome = "ineligible", failed = { "education" },
}

-- [unemployed]

case "unemployed: an employed applicant" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { employment_status = "employed" }),
  outcome = "ineligible", failed = { "unemployed" },
}
case "unemployed: a student" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { employment_status = "student" }),
  outcome = "ineligible", failed = { "unemployed" },
}

-- [waiting] unemployed for at least 6 whole calendar months, or bac+3.

case "waiting: exactly 6 months (1 September to 1 March)" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = "2024-09-01" }),
  outcome = "eligible",
}
case "waiting: one day short of 6 months (2 September to 1 March is 5)" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = "2024-09-02" }),
  outcome = "ineligible", failed = { "waiting" },
}
case "waiting: from the 29th to the 28th does not complete the sixth month" {
  program = "idmaj", as_of = "2025-02-28",
  applicant = with(base, { unemployed_since = "2024-08-29" }),
  outcome = "ineligible", failed = { "waiting" },
}
case "waiting: from the 28th to the 28th completes it" {
  program = "idmaj", as_of = "2025-02-28",
  applicant = with(base, { unemployed_since = "2024-08-28" }),
  outcome = "eligible",
}
case "waiting: from the 31st, the end of February does not complete the sixth month" {
  program = "idmaj", as_of = "2025-02-28",
  applicant = with(base, { unemployed_since = "2024-08-31" }),
  outcome = "ineligible", failed = { "waiting" },
}
case "waiting: from 31 August, 1 March completes 6 months" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = "2024-08-31" }),
  outcome = "eligible",
}
case "waiting: unemployed_since null and bac+2, the wait is not met" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = null }),
  outcome = "ineligible", failed = { "waiting" },
}
case "waiting: unemployed_since null and bac+3, the degree waives the wait" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = null, education = "bac+3" }),
  outcome = "eligible",
}
case "waiting: one month unemployed with bac+5" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = "2025-02-01", education = "bac+5" }),
  outcome = "eligible",
}
case "waiting: unemployed_since absent (not null) is missing" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = absent }),
  outcome = "incomplete", missing = { "unemployed_since" },
}
case "waiting: unemployed_since absent is not needed with a doctorate" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = absent, education = "doctorate" }),
  outcome = "eligible",
}

-- [no_recent] no IDMAJ benefit dated after months_before(as_of, 24) and on or
-- before as_of.  On 2025-03-01 the window opens after 2023-03-01.

case "no_recent: a benefit exactly 24 months before no longer counts" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = idmaj_on("2023-03-01") }),
  outcome = "eligible",
}
case "no_recent: a benefit one day later than 24 months before counts" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = idmaj_on("2023-03-02") }),
  outcome = "ineligible", failed = { "no_recent" },
}
case "no_recent: a benefit on the decision date counts" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = idmaj_on("2025-03-01") }),
  outcome = "ineligible", failed = { "no_recent" },
}
case "no_recent: a benefit dated after the decision date does not count" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = idmaj_on("2025-03-02") }),
  outcome = "eligible",
}
case "no_recent: an old benefit and a recent one" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = {
    { program = "idmaj", date = "2019-05-01" },
    { program = "idmaj", date = "2024-11-20" },
  } }),
  outcome = "ineligible", failed = { "no_recent" },
}
case "no_recent: benefits of other programmes do not count" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = {
    { program = "taehil", date = "2025-01-10" },
    { program = "awrach", date = "2024-10-01" },
  } }),
  outcome = "eligible",
}
case "no_recent: no earlier benefit at all" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = {} }),
  outcome = "eligible",
}
-- 24 months before 2028-02-29 is 2026-02-29, clamped to 2026-02-28.
case "no_recent: 24 months before 29 February is 28 February, which no longer counts" {
  program = "idmaj", as_of = "2028-02-29",
  applicant = with(base, { previous_benefits = idmaj_on("2026-02-28") }),
  outcome = "eligible",
}
case "no_recent: the day after the clamped date counts" {
  program = "idmaj", as_of = "2028-02-29",
  applicant = with(base, { previous_benefits = idmaj_on("2026-03-01") }),
  outcome = "ineligible", failed = { "no_recent" },
}

-- Dating: the programme is in force from 1 January 2025.  (On 2025-01-01 the
-- base applicant is 26 and unemployed for exactly 6 months: 15 June to
-- 15 December, and the 1st of January has not reached the 15th.)

case "dating: the base applicant is eligible on the programme's first day" {
  program = "idmaj", as_of = "2025-01-01",
  applicant = base,
  outcome = "eligible",
}
case "dating: no version of the programme is in force before 1 January 2025" {
  program = "idmaj", as_of = "2024-12-31",
  applicant = base,
  error = "unknown_program",
}

-- Every criterion at once.

case "every criterion fails" {
  program = "idmaj", as_of = ON,
  applicant = with(base, {
    birth_date = "2010-01-01",            -- 15
    registered_with_agency = false,
    education = "primary",
    employment_status = "employed",
    unemployed_since = null,
    previous_benefits = idmaj_on("2024-12-01"),
  }),
  outcome = "ineligible",
  failed = { "age", "registered", "education", "unemployed", "waiting", "no_recent" },
}

-- Missing data: absent fields make the criteria that read them missing.

case "missing: no birth date" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = absent }),
  outcome = "incomplete", missing = { "birth_date" },
}
case "missing: no employment status" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { employment_status = absent }),
  outcome = "incomplete", missing = { "employment_status" },
}
case "missing: registration and education absent ([waiting] is met by the wait alone)" {
  -- Unemployed since 2024-06-15: 8 months on ON, the wait is met whatever
  -- the degree; only [education] needs it.
  program = "idmaj", as_of = ON,
  applicant = with(base, { registered_with_agency = absent, education = absent }),
  outcome = "incomplete", missing = { "education", "registered_with_agency" },
  passed = { "waiting" },
}
case "waiting: education absent and the wait not met: the degree is needed" {
  -- Unemployed since 2025-01-15: 1 month on ON, so only bac+3 could pass.
  program = "idmaj", as_of = ON,
  applicant = with(base, { education = absent, unemployed_since = "2025-01-15" }),
  outcome = "incomplete", missing = { "education" },
}
case "missing: no list of earlier benefits" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = absent }),
  outcome = "incomplete", missing = { "previous_benefits" },
}
case "missing: a failed criterion makes it ineligible all the same" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = absent, registered_with_agency = false }),
  outcome = "ineligible", failed = { "registered" },
}

-- Invalid applicants.

case "invalid: an impossible birth date" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "2023-02-30" }),
  error = "invalid_applicant",
}
case "invalid: a birth date of the wrong shape" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "1998-5-10" }),
  error = "invalid_applicant",
}
case "invalid: 29 February of a common year" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = "2023-02-29" }),
  error = "invalid_applicant",
}
case "invalid: a birth date after the decision date" {
  -- Not "age -1 is outside the limits": the application is refused.
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = "2025-03-02" }),
  error = "invalid_applicant",
}
case "invalid: an unemployment that starts after the decision date" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { unemployed_since = "2025-06-01" }),
  error = "invalid_applicant",
}
case "born on the decision date: decided (age 0)" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = ON }),
  outcome = "ineligible", failed = { "age" },
}
case "invalid: an impossible date in the earlier benefits" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { previous_benefits = idmaj_on("2024-04-31") }),
  error = "invalid_applicant",
}
case "invalid: registration given as text" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { registered_with_agency = "yes" }),
  error = "invalid_applicant",
}
case "invalid: an education level not on the scale" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { education = "master" }),
  error = "invalid_applicant",
}
case "invalid: a null birth date (the field is not nullable)" {
  program = "idmaj", as_of = ON,
  applicant = with(base, { birth_date = null }),
  error = "invalid_applicant",
}
