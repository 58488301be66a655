-- Test cases for intelaka.lua.  Every expected value below was worked out by
-- hand from the programme's conditions; the comment on a case shows the working.

local ON = "2025-03-01"

-- Eligible on ON: aged 34, no disability, a commerce project of 300,000 MAD
-- with a submitted plan and 50,000 MAD of own money (50,000 x 10 = 500,000 >=
-- 300,000), and the only earlier benefit is from another programme.
local base = {
  applicant_id = "T-INTELAKA",
  birth_date = "1990-04-12",
  nationality = "MA",
  residence = "MA",
  region = "Souss-Massa",
  education = "bac+2",
  registered_with_agency = true,
  employment_status = "unemployed",
  unemployed_since = "2024-02-01",
  monthly_household_income = 5000,
  household_size = 2,
  disability = false,
  in_training = false,
  business = {
    sector = "commerce",
    plan_submitted = true,
    project_cost = 300000,
    own_contribution = 50000,
    expected_turnover = 450000,
    legal_form = "sarl",
  },
  previous_benefits = { { program = "idmaj", date = "2024-05-01" } },
}

-- The base applicant with these changes to the business.
local function with_business(changes)
  return with(base, { business = with(base.business, changes) })
end

-- A list of earlier benefits holding one Intelaka benefit on DATE.
local function intelaka_on(date)
  return { { program = "idmaj", date = "2024-05-01" }, { program = "intelaka", date = date } }
end

case "the base applicant is eligible" {
  program = "intelaka", as_of = ON,
  applicant = base,
  outcome = "eligible",
}

-- [age] 18 to 45, no upper limit with a disability.

case "age: 18th birthday the day after the decision, still 17" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-02" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 18th birthday on the decision date" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-01" }),
  outcome = "eligible",
}
case "age: 18th birthday the day before the decision" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "2007-02-28" }),
  outcome = "eligible",
}
case "age: 46th birthday the day after the decision, still 45" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1979-03-02" }),
  outcome = "eligible",
}
case "age: 46th birthday on the decision date" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1979-03-01" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 46th birthday the day before the decision" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1979-02-28" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: 46 with a disability, the upper limit does not apply" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1979-03-01", disability = true }),
  outcome = "eligible",
}
case "age: 70 with a disability" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1955-01-01", disability = true }),
  outcome = "eligible",
}
case "age: 17 with a disability, the lower limit still applies" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "2007-03-02", disability = true }),
  outcome = "ineligible", failed = { "age" },
}
case "age: born 29 February 1980, still 45 on 28 February 2026" {
  program = "intelaka", as_of = "2026-02-28",
  applicant = with(base, { birth_date = "1980-02-29" }),
  outcome = "eligible",
}
case "age: born 29 February 1980, 46 on 1 March 2026" {
  program = "intelaka", as_of = "2026-03-01",
  applicant = with(base, { birth_date = "1980-02-29" }),
  outcome = "ineligible", failed = { "age" },
}
case "age: born 29 February 1980, 46 on 1 March 2026, with a disability" {
  program = "intelaka", as_of = "2026-03-01",
  applicant = with(base, { birth_date = "1980-02-29", disability = true }),
  outcome = "eligible",
}
case "age: disability absent is not needed at 34" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { disability = absent }),
  outcome = "eligible",
}
-- The disability is asked only above the upper limit: at 45 exactly the
-- limit is met without it.
case "age: disability absent is not needed at exactly 45" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1979-03-02", disability = absent }),
  outcome = "eligible",
}
case "age: disability absent is needed at 46" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1979-03-01", disability = absent }),
  outcome = "incomplete", missing = { "disability" },
}
case "age: disability absent is needed at 50" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = "1975-01-01", disability = absent }),
  outcome = "incomplete", missing = { "disability" },
}

-- [plan]

case "plan: the business plan is not submitted" {
  program = "intelaka", as_of = ON,
  applicant = with_business { plan_submitted = false },
  outcome = "ineligible", failed = { "plan" },
}
case "business null: every criterion reading the business fails" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { business = null }),
  outcome = "ineligible", failed = { "plan", "sector", "cost", "contribution" },
}
case "business absent: every criterion reading the business is missing" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { business = absent }),
  outcome = "incomplete", missing = { "business" },
}

-- [sector] not real estate or finance.

case "sector: real estate is excluded" {
  program = "intelaka", as_of = ON,
  applicant = with_business { sector = "real_estate" },
  outcome = "ineligible", failed = { "sector" },
}
case "sector: finance is excluded" {
  program = "intelaka", as_of = ON,
  applicant = with_business { sector = "finance" },
  outcome = "ineligible", failed = { "sector" },
}
case "sector: services" {
  program = "intelaka", as_of = ON,
  applicant = with_business { sector = "services" },
  outcome = "eligible",
}
case "sector: agriculture" {
  program = "intelaka", as_of = ON,
  applicant = with_business { sector = "agriculture" },
  outcome = "eligible",
}

-- [cost] at most 1,200,000 MAD.

case "cost: exactly 1,200,000 with exactly 10% of own money" {
  program = "intelaka", as_of = ON,
  applicant = with_business { project_cost = 1200000, own_contribution = 120000 },
  outcome = "eligible",
}
-- 12,000,100 centimes x 100 = 1,200,010,000 >= 120,000,001 x 10 = 1,200,000,010:
-- the contribution still passes, only the cost fails.
case "cost: one centime above 1,200,000" {
  program = "intelaka", as_of = ON,
  applicant = with_business { project_cost = 1200000.01, own_contribution = 120001 },
  outcome = "ineligible", failed = { "cost" },
}

-- [contribution] own x 10 >= cost, exactly.

case "contribution: exactly 10% (30,000 of 300,000)" {
  program = "intelaka", as_of = ON,
  applicant = with_business { own_contribution = 30000 },
  outcome = "eligible",
}
case "contribution: one centime below 10% (29,999.99 of 300,000)" {
  program = "intelaka", as_of = ON,
  applicant = with_business { own_contribution = 29999.99 },
  outcome = "ineligible", failed = { "contribution" },
}
-- 2,500,001 centimes x 10 = 25,000,010 = the cost in centimes.
case "contribution: exactly 10% with centimes (25,000.01 of 250,000.10)" {
  program = "intelaka", as_of = ON,
  applicant = with_business { project_cost = 250000.10, own_contribution = 25000.01 },
  outcome = "eligible",
}
case "contribution: one centime below 10% with centimes (25,000.00 of 250,000.10)" {
  program = "intelaka", as_of = ON,
  applicant = with_business { project_cost = 250000.10, own_contribution = 25000 },
  outcome = "ineligible", failed = { "contribution" },
}
case "contribution: the whole project paid with own money" {
  program = "intelaka", as_of = ON,
  applicant = with_business { own_contribution = 300000 },
  outcome = "eligible",
}

-- [no_recent] no Intelaka benefit dated after months_before(as_of, 36) and on
-- or before as_of.  On 2025-03-01 the window opens after 2022-03-01.

case "no_recent: a benefit exactly 36 months before no longer counts" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { previous_benefits = intelaka_on("2022-03-01") }),
  outcome = "eligible",
}
case "no_recent: a benefit one day later than 36 months before counts" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { previous_benefits = intelaka_on("2022-03-02") }),
  outcome = "ineligible", failed = { "no_recent" },
}
case "no_recent: a benefit on the decision date counts" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { previous_benefits = intelaka_on("2025-03-01") }),
  outcome = "ineligible", failed = { "no_recent" },
}
case "no_recent: a benefit dated after the decision date does not count" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { previous_benefits = intelaka_on("2025-03-02") }),
  outcome = "eligible",
}

-- Dating: the programme is in force from 1 January 2025.  (On 2025-01-01 the
-- base applicant is 34.)

case "dating: the base applicant is eligible on the programme's first day" {
  program = "intelaka", as_of = "2025-01-01",
  applicant = base,
  outcome = "eligible",
}
case "dating: no version of the programme is in force before 1 January 2025" {
  program = "intelaka", as_of = "2024-12-31",
  applicant = base,
  error = "unknown_program",
}

case "every criterion fails" {
  program = "intelaka", as_of = ON,
  applicant = with(base, {
    birth_date = "1960-06-30",            -- 64, no disability
    business = {
      sector = "finance",
      plan_submitted = false,
      project_cost = 2000000,
      own_contribution = 100000,          -- 5%
      expected_turnover = 900000,
      legal_form = "sa",
    },
    previous_benefits = intelaka_on("2023-07-14"),
  }),
  outcome = "ineligible",
  failed = { "age", "plan", "sector", "cost", "contribution", "no_recent" },
}

-- Missing data inside the business.

case "missing: plan submission absent" {
  program = "intelaka", as_of = ON,
  applicant = with_business { plan_submitted = absent },
  outcome = "incomplete", missing = { "business.plan_submitted" },
}
case "missing: sector absent" {
  program = "intelaka", as_of = ON,
  applicant = with_business { sector = absent },
  outcome = "incomplete", missing = { "business.sector" },
}
case "missing: own contribution absent" {
  program = "intelaka", as_of = ON,
  applicant = with_business { own_contribution = absent },
  outcome = "incomplete", missing = { "business.own_contribution" },
}
case "missing: project cost absent ([cost] and [contribution] need it)" {
  program = "intelaka", as_of = ON,
  applicant = with_business { project_cost = absent },
  outcome = "incomplete", missing = { "business.project_cost" },
}

-- Missing data outside it.

case "missing: no birth date" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { birth_date = absent }),
  outcome = "incomplete", missing = { "birth_date" },
}
case "missing: no list of earlier benefits" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { previous_benefits = absent }),
  outcome = "incomplete", missing = { "previous_benefits" },
}

-- Invalid applicants.

case "invalid: a project cost given as text" {
  program = "intelaka", as_of = ON,
  applicant = with_business { project_cost = "a lot" },
  error = "invalid_applicant",
}
case "invalid: a sector not in the list" {
  program = "intelaka", as_of = ON,
  applicant = with_business { sector = "mining" },
  error = "invalid_applicant",
}
case "invalid: an amount with three decimals" {
  program = "intelaka", as_of = ON,
  applicant = with_business { own_contribution = 30000.005 },
  error = "invalid_applicant",
}
case "invalid: disability given as text" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { disability = "yes" }),
  error = "invalid_applicant",
}
case "invalid: the business given as text" {
  program = "intelaka", as_of = ON,
  applicant = with(base, { business = "shop" }),
  error = "invalid_applicant",
}

