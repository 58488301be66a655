-- Awrach: temporary jobs on public works sites for people without work.
--
-- Every figure a check compares against is a dated parameter declared here: a
-- change of policy is a new dated value, never an edit of a check.  Money is
-- compared in whole centimes (`cents`), so no rounding can decide a case.
--
-- Effective dating, shown on the income ceiling: the programme has been in
-- force since 2022 in one version, and its per-person ceiling was raised on
-- 1 January 2025.  A decision dated 2024-12-31 uses the old ceiling, one
-- dated 2025-01-01 the new one (see awrach.test.lua).

local REF = "Programme Awrach, conditions d'accès"
local NONE = "—"   -- shown in a message for a value that does not exist

-- Income per person in MAD, for a message, rounded up to the centime, so
-- that an income over the ceiling never shows as equal to it.  The decision
-- itself never divides: see the [income] check.
local function per_person(income, size)   -- size is at least 1 (schema.lua)
  return ((cents(income) + size - 1) // size) / 100
end

parameter "awrach.age_min" {
  reference = REF,
  { from = "2022-01-01", value = 18 },
}
parameter "awrach.income_per_person_max" {   -- MAD per month and per person of the household
  reference = REF .. " ; plafond relevé au 1er janvier 2025",
  -- The earlier figure illustrates a dated change in this sample rule set.
  { from = "2022-01-01", value = 1200, reference = REF .. " ; plafond initial (valeur d'illustration)" },
  { from = "2025-01-01", value = 1500 },
}

program "awrach" {
  version = "2022.1",
  from = "2022-01-01",
  title = {
    en = "Awrach: temporary public works",
    fr = "Awrach : chantiers publics temporaires",
    ar = "أوراش: الأوراش العامة المؤقتة",
  },
  reference = REF,

  criterion "age" {
    text = {
      en = "Aged {awrach.age_min} or over",
      fr = "Âgé d'au moins {awrach.age_min} ans",
      ar = "أن يكون بالغا من العمر {awrach.age_min} سنة على الأقل",
    },
    fail = {
      en = "age {age} is below the minimum of {min}",
      fr = "l'âge de {age} ans est inférieur au minimum de {min} ans",
      ar = "السن {age} أقل من الحد الأدنى المحدد في {min} سنة",
    },
    pass = {
      en = "age {age} is at least {min}",
      fr = "l'âge de {age} ans atteint le minimum de {min} ans",
      ar = "السن {age} لا يقل عن {min} سنة",
    },
    reference = REF .. " : âge",
    check = function(a, on)
      local years, min = age(a.birth_date, on), param "awrach.age_min"
      return years >= min, { age = years, min = min }
    end,
  },

  criterion "unemployed" {
    text = {
      en = "Unemployed",
      fr = "Sans emploi",
      ar = "أن يكون في وضعية بطالة",
    },
    fail = {
      en = "employment status is {status|employment_status}, not unemployed",
      fr = "la situation professionnelle est « {status|employment_status} », et non « sans emploi »",
      ar = "الوضعية المهنية هي {status|employment_status} وليست البطالة",
    },
    pass = {
      en = "employment status is unemployed",
      fr = "la situation professionnelle est « sans emploi »",
      ar = "الوضعية المهنية هي البطالة",
    },
    reference = REF .. " : situation de chômage",
    check = function(a)
      return a.employment_status == "unemployed", { status = a.employment_status }
    end,
  },

  criterion "income" {
    text = {
      en = "Monthly household income per person at most {awrach.income_per_person_max} MAD (the ceiling in force on the decision date)",
      fr = "Revenu mensuel du ménage par personne au plus égal à {awrach.income_per_person_max} MAD (le plafond en vigueur à la date de la décision)",
      ar = "ألا يتجاوز الدخل الشهري للأسرة لكل فرد {awrach.income_per_person_max} درهم (السقف الجاري به العمل في تاريخ القرار)",
    },
    fail = {
      en = "income per person {per_person} MAD is above the ceiling of {max} MAD ({income} MAD for a household of {size})",
      fr = "le revenu par personne de {per_person} MAD dépasse le plafond de {max} MAD ({income} MAD, taille du ménage : {size})",
      ar = "الدخل لكل فرد {per_person} درهم يتجاوز السقف المحدد في {max} درهم ({income} درهم، عدد أفراد الأسرة: {size})",
    },
    pass = {
      en = "income per person {per_person} MAD is within the ceiling of {max} MAD ({income} MAD for a household of {size})",
      fr = "le revenu par personne de {per_person} MAD ne dépasse pas le plafond de {max} MAD ({income} MAD, taille du ménage : {size})",
      ar = "الدخل لكل فرد {per_person} درهم لا يتجاوز السقف المحدد في {max} درهم ({income} درهم، عدد أفراد الأسرة: {size})",
    },
    reference = REF .. " : plafond de revenu",
    check = function(a)
      local income, size = a.monthly_household_income, a.household_size
      local max = param "awrach.income_per_person_max"
      -- Income / size <= ceiling, exactly and without dividing: income <= ceiling x size.
      return cents(income) <= cents(max) * size,
        { per_person = per_person(income, size), max = max, income = income, size = size }
    end,
  },
}
