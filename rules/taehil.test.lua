-- Test cases for taehil.lua.  Every expected value below was worked out by
-- hand from the programme's conditions; the comment on a case shows the working.

local ON = "2025-03-01"

-- Eligible on ON: aged 39 (40th birthday in July), bac, registered,
-- unemployed, not in training.
local base = {
  applicant_id = "T-TAEHIL",
  birth_date = "1985-07-20",
  nationality = "MA",
  residence = "MA",
  region = "Fès-Meknès",
  education = "bac",
  registered_with_agency = true,
  employment_status = "unemployed",
  unemployed_since = "2024-11-01",
  monthly_household_income = 3500,
  household_size = 3,
  disability = false,
  in_training = false,
  business = null,
  previous_benefits = { { program = "idmaj", date = "2022-04-01" } },
}

case "the base applicant is eligible" {
  program = "taehil", as_of = ON,
  applicant = base,
  outcome = "eligible",
}

-- [age] 18 to 45.

case "age: 18th birthday the day after the decision, still 17" {
  program = "taehil", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-02" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 18th birthday on the decision date" {
  program = "taehil", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-01" }),
  outcome = "eligible",
}
case "age: 18th birthday the day before the decision" {
  program = "taehil", as_of = ON,
  applicant = with(base, { birth_date = "2007-02-28" }),
  outcome = "eligible",
}
case "age: 46th birthday the day after the decision, still 45" {
  program = "taehil", as_of = ON,
  applicant = with(base, { birth_date = "1979-03-02" }),
  outcome = "eligible",
}
case "age: 46th birthday on the decision date" {
  program = "taehil", as_of = ON,
  applicant = with(base, { birth_date = "1979-03-01" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 46th birthday the day before the decision" {
  program = "taehil", as_of = ON,
  applicant = with(base, { birth_date = "1979-02-28" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: born 29 February 1980, still 45 on 28 February 2026" {
  program = "taehil", as_of = "2026-02-28",
  applicant = with(base, { birth_date = "1980-02-29" }),
  outcome = "eligible",
}
case "age: born 29 February 1980, 46 on 1 March 2026" {
  program = "taehil", as_of = "2026-03-01",
  applicant = with(base, { birth_date = "1980-02-29" }),
  outcome = "ineligible", failed = { "age" },
}

-- [registered]

case "registered: not registered with the agency" {
  program = "taehil", as_of = ON,
  applicant = with(base, { registered_with_agency = false }),
  outcome = "ineligible", failed = { "registered" },
}

-- [education] at least bac.

case "education: secondary is below bac" {
  program = "taehil", as_of = ON,
  applicant = with(base, { education = "secondary" }),
  outcome = "ineligible", failed = { "education" },
}
case "education: primary is below bac" {
  program = "taehil", as_of = ON,
  applicant = with(base, { education = "primary" }),
  outcome = "ineligible", failed = { "education" },
}
case "education: bac+5 is above bac" {
  program = "taehil", as_of = ON,
  applicant = with(base, { education = "bac+5" }),
  outcome = "eligible",
}

-- [not_in_training]

case "not_in_training: already in training" {
  program = "taehil", as_of = ON,
  applicant = with(base, { in_training = true }),
  outcome = "ineligible", failed = { "not_in_training" },
}

-- [unemployed]

case "unemployed: an employed applicant" {
  program = "taehil", as_of = ON,
  applicant = with(base, { employment_status = "employed" }),
  outcome = "ineligible", failed = { "unemployed" },
}
case "unemployed: a self-employed applicant" {
  program = "taehil", as_of = ON,
  applicant = with(base, { employment_status = "self_employed" }),
  outcome = "ineligible", failed = { "unemployed" },
}
case "unemployed: a student" {
  program = "taehil", as_of = ON,
  applicant = with(base, { employment_status = "student" }),
  outcome = "ineligible", failed = { "unemployed" },
}

-- TAEHIL has no waiting period and no rule on earlier benefits.

case "a recent TAEHIL benefit and a short unemployment do not matter" {
  program = "taehil", as_of = ON,
  applicant = with(base, {
    unemployed_since = null,
    previous_benefits = { { program = "taehil", date = "2025-01-05" } },
  }),
  outcome = "eligible",
}

-- Dating: the programme is in force from 1 January 2025.  (On 2025-01-01 the
-- base applicant is 39.)

case "dating: the base applicant is eligible on the programme's first day" {
  program = "taehil", as_of = "2025-01-01",
  applicant = base,
  outcome = "eligible",
}
case "dating: no version of the programme is in force before 1 January 2025" {
  program = "taehil", as_of = "2024-12-31",
  applicant = base,
  error = "unknown_program",
}

case "every criterion fails" {
  program = "taehil", as_of = ON,
  applicant = with(base, {
    birth_date = "1970-01-01",            -- 55
    registered_with_agency = false,
    education = "primary",
    in_training = true,
    employment_status = "employed",
  }),
  outcome = "ineligible",
  failed = { "age", "registered", "education", "not_in_training", "unemployed" },
}

-- Missing data.

case "missing: in_training absent" {
  program = "taehil", as_of = ON,
  applicant = with(base, { in_training = absent }),
  outcome = "incomplete", missing = { "in_training" },
}
case "missing: registration and education absent" {
  program = "taehil", as_of = ON,
  applicant = with(base, { registered_with_agency = absent, education = absent }),
  outcome = "incomplete", missing = { "education", "registered_with_agency" },
}
case "missing: employment status and birth date absent" {
  program = "taehil", as_of = ON,
  applicant = with(base, { employment_status = absent, birth_date = absent }),
  outcome = "incomplete", missing = { "birth_date", "employment_status" },
}
case "missing: fields TAEHIL does not read may be absent" {
  program = "taehil", as_of = ON,
  applicant = with(base, { unemployed_since = absent, business = absent, previous_benefits = absent }),
  outcome = "eligible",
}

-- Invalid applicants.

case "invalid: in_training given as text" {
  program = "taehil", as_of = ON,
  applicant = with(base, { in_training = "no" }),
  error = "invalid_applicant",
}
case "invalid: an employment status not in the list" {
  program = "taehil", as_of = ON,
  applicant = with(base, { employment_status = "retired" }),
  error = "invalid_applicant",
}
case "invalid: month 13 in the birth date" {
  program = "taehil", as_of = ON,
  applicant = with(base, { birth_date = "1985-13-01" }),
  error = "invalid_applicant",
}
