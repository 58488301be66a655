-- Test cases for auto_entrepreneur.lua.  Every expected value below was worked
-- out by hand from the programme's conditions; the comment on a case shows the
-- working.

local ON = "2025-03-01"

-- Eligible on ON: aged 32, Moroccan living in Morocco, a commerce activity
-- expecting 300,000 MAD a year (ceiling 500,000), no legal form yet.
local base = {
  applicant_id = "T-AE",
  birth_date = "1992-09-15",
  nationality = "MA",
  residence = "MA",
  region = "Marrakech-Safi",
  education = "secondary",
  registered_with_agency = false,
  employment_status = "self_employed",
  unemployed_since = null,
  monthly_household_income = 7000,
  household_size = 3,
  disability = false,
  in_training = false,
  business = {
    sector = "commerce",
    plan_submitted = false,
    project_cost = 20000,
    own_contribution = 20000,
    expected_turnover = 300000,
    legal_form = "none",
  },
  previous_benefits = { { program = "intelaka", date = "2023-05-01" } },
}

-- The base applicant with these changes to the business.
local function with_business(changes)
  return with(base, { business = with(base.business, changes) })
end

case "the base applicant is eligible" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = base,
  outcome = "eligible",
}

-- [age] at least 18.

case "age: 18th birthday the day after the decision, still 17" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-02" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 18th birthday on the decision date" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-01" }),
  outcome = "eligible",
}
case "age: 18th birthday the day before the decision" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { birth_date = "2007-02-28" }),
  outcome = "eligible",
}
case "age: no upper limit at 74" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { birth_date = "1950-06-01" }),
  outcome = "eligible",
}

-- [residency] Moroccan nationality or residence in Morocco.

case "residency: a foreign national living in Morocco" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = "FR", residence = "MA" }),
  outcome = "eligible",
}
case "residency: a Moroccan national living abroad" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = "MA", residence = "abroad" }),
  outcome = "eligible",
}
case "residency: a foreign national living abroad" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = "FR", residence = "abroad" }),
  outcome = "ineligible", failed = { "residency" },
}
case "residency: a Moroccan national needs no residence" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { residence = absent }),
  outcome = "eligible",
}
case "residency: a foreign national's residence is needed" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = "SN", residence = absent }),
  outcome = "incomplete", missing = { "residence" },
}
case "residency: nationality absent, resident in Morocco: the residence is enough" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = absent }),
  outcome = "eligible",
}
case "residency: nationality absent, living abroad: the nationality is needed" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = absent, residence = "abroad" }),
  outcome = "incomplete", missing = { "nationality" },
}
case "residency: both absent" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = absent, residence = absent }),
  outcome = "incomplete", missing = { "nationality" },
}

-- [activity] a business outside real estate and finance.  Those two sectors
-- have no turnover ceiling, so [turnover] fails with them.

case "activity: real estate fails [activity] and [turnover]" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "real_estate" },
  outcome = "ineligible", failed = { "activity", "turnover" },
}
case "activity: finance fails [activity] and [turnover]" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "finance" },
  outcome = "ineligible", failed = { "activity", "turnover" },
}
case "activity: real estate fails [turnover] even with no turnover given" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "real_estate", expected_turnover = absent },
  outcome = "ineligible", failed = { "activity", "turnover" },
}
case "business null: every criterion reading the business fails" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { business = null }),
  outcome = "ineligible", failed = { "activity", "turnover", "legal_form" },
}
case "business absent: every criterion reading the business is missing" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { business = absent }),
  outcome = "incomplete", missing = { "business" },
}

-- [turnover] at most 500,000 MAD for commerce, industry, crafts and
-- agriculture; at most 200,000 MAD for services, digital and tourism.

case "turnover: commerce at exactly 500,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { expected_turnover = 500000 },
  outcome = "eligible",
}
case "turnover: commerce one centime above 500,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { expected_turnover = 500000.01 },
  outcome = "ineligible", failed = { "turnover" },
}
case "turnover: industry at exactly 500,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "industry", expected_turnover = 500000 },
  outcome = "eligible",
}
case "turnover: crafts at exactly 500,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "crafts", expected_turnover = 500000 },
  outcome = "eligible",
}
-- Each of the seven sectors passes exactly at its ceiling: one left out of
-- its list would have no ceiling and fail, one moved to the lower ceiling
-- would fail too (and one moved to the higher ceiling passes above the lower
-- one: services, digital and tourism each have a case above 200,000).
case "turnover: agriculture at exactly 500,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "agriculture", expected_turnover = 500000 },
  outcome = "eligible",
}
case "turnover: agriculture above 500,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "agriculture", expected_turnover = 650000 },
  outcome = "ineligible", failed = { "turnover" },
}
case "turnover: services at exactly 200,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "services", expected_turnover = 200000 },
  outcome = "eligible",
}
case "turnover: services one centime above 200,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "services", expected_turnover = 200000.01 },
  outcome = "ineligible", failed = { "turnover" },
}
case "turnover: 300,000 is too much for services (the base shows it is fine for commerce)" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "services", expected_turnover = 300000 },
  outcome = "ineligible", failed = { "turnover" },
}
case "turnover: digital at exactly 200,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "digital", expected_turnover = 200000 },
  outcome = "eligible",
}
case "turnover: digital at 250,000 is above 200,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "digital", expected_turnover = 250000 },
  outcome = "ineligible", failed = { "turnover" },
}
case "turnover: tourism at exactly 200,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "tourism", expected_turnover = 200000 },
  outcome = "eligible",
}
case "turnover: tourism one centime above 200,000" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = "tourism", expected_turnover = 200000.01 },
  outcome = "ineligible", failed = { "turnover" },
}

-- [legal_form] none or auto_entrepreneur.

case "legal_form: already an auto-entrepreneur" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { legal_form = "auto_entrepreneur" },
  outcome = "eligible",
}
case "legal_form: a SARL" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { legal_form = "sarl" },
  outcome = "ineligible", failed = { "legal_form" },
}
case "legal_form: a one-member SARL" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { legal_form = "sarl_au" },
  outcome = "ineligible", failed = { "legal_form" },
}

-- Dating: the status is decided from 1 January 2025.  (On 2025-01-01 the
-- base applicant is 32.)

case "dating: the base applicant is eligible on the programme's first day" {
  program = "auto_entrepreneur", as_of = "2025-01-01",
  applicant = base,
  outcome = "eligible",
}
case "dating: no version of the programme is in force before 1 January 2025" {
  program = "auto_entrepreneur", as_of = "2024-12-31",
  applicant = base,
  error = "unknown_program",
}

case "every criterion fails" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, {
    birth_date = "2009-12-31",            -- 15
    nationality = "ES",
    residence = "abroad",
    business = with(base.business, { sector = "finance", legal_form = "sa" }),
  }),
  outcome = "ineligible",
  failed = { "age", "residency", "activity", "turnover", "legal_form" },
}

-- Missing data inside the business.

case "missing: expected turnover absent" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { expected_turnover = absent },
  outcome = "incomplete", missing = { "business.expected_turnover" },
}
case "missing: sector absent ([activity] and [turnover] need it)" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { sector = absent },
  outcome = "incomplete", missing = { "business.sector" },
}
case "missing: legal form absent" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { legal_form = absent },
  outcome = "incomplete", missing = { "business.legal_form" },
}
case "missing: no birth date" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { birth_date = absent }),
  outcome = "incomplete", missing = { "birth_date" },
}

-- Invalid applicants.

case "invalid: a legal form not in the list" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { legal_form = "gmbh" },
  error = "invalid_applicant",
}
case "invalid: a turnover given as text" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with_business { expected_turnover = "500k" },
  error = "invalid_applicant",
}
case "invalid: a residence not in the list" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = "FR", residence = "FR" }),
  error = "invalid_applicant",
}
case "invalid: a nationality given as a number" {
  program = "auto_entrepreneur", as_of = ON,
  applicant = with(base, { nationality = 504 }),
  error = "invalid_applicant",
}
