-- Intelaka: financing for people starting a small business.
--
-- Every figure a check compares against is a dated parameter declared here: a
-- change of policy is a new dated value, never an edit of a check.  Money is
-- compared in whole centimes (`cents`), so no rounding can decide a case.
--
-- When the applicant has no business project (`business` is null), every
-- criterion that reads the business fails.  A message has one template per
-- outcome, so those fail messages name both causes: "no business project, or
-- ...", with "—" where a value does not exist.

local REF = "Programme intégré d'appui et de financement des entreprises (Intelaka), conditions d'éligibilité"
local NONE = "—"   -- shown in a message for a value that does not exist

parameter "intelaka.age_min" {
  reference = REF,
  { from = "2025-01-01", value = 18 },
}
parameter "intelaka.age_max" {             -- not applied to a person with a disability
  reference = REF,
  { from = "2025-01-01", value = 45 },
}
parameter "intelaka.cost_max" {            -- MAD
  reference = REF,
  { from = "2025-01-01", value = 1200000 },
}
parameter "intelaka.contribution_min_percent" {
  reference = REF,
  { from = "2025-01-01", value = 10 },
}
parameter "intelaka.no_recent_months" {
  reference = REF,
  { from = "2025-01-01", value = 36 },
}

program "intelaka" {
  version = "2025.1",
  from = "2025-01-01",
  title = {
    en = "Intelaka: entrepreneurship financing",
    fr = "Intelaka : financement de l'entrepreneuriat",
    ar = "انطلاقة: تمويل المقاولات",
  },
  reference = REF,

  criterion "age" {
    text = {
      en = "Aged {intelaka.age_min} to {intelaka.age_max} (no upper limit for a person with a disability)",
      fr = "Âgé de {intelaka.age_min} à {intelaka.age_max} ans (sans limite supérieure pour une personne en situation de handicap)",
      ar = "أن يتراوح السن بين {intelaka.age_min} و{intelaka.age_max} سنة (دون حد أقصى للأشخاص في وضعية إعاقة)",
    },
    fail = {
      en = "age {age} is outside the limits of {min} to {max} (the upper limit does not apply to a person with a disability)",
      fr = "l'âge de {age} ans est hors des limites de {min} à {max} ans (la limite supérieure ne s'applique pas à une personne en situation de handicap)",
      ar = "السن {age} خارج الحدود المطلوبة من {min} إلى {max} سنة (لا يطبق الحد الأقصى على الأشخاص في وضعية إعاقة)",
    },
    pass = {
      en = "age {age} meets the age condition ({min} to {max}, no upper limit with a disability)",
      fr = "l'âge de {age} ans remplit la condition d'âge ({min} à {max} ans, sans limite supérieure en cas de handicap)",
      ar = "السن {age} يستوفي شرط السن (من {min} إلى {max} سنة، دون حد أقصى في حالة الإعاقة)",
    },
    reference = REF .. " : âge",
    check = function(a, on)
      local years = age(a.birth_date, on)
      local min, max = param "intelaka.age_min", param "intelaka.age_max"
      -- A disability lifts the upper limit; it is asked about only when the age is above it.
      local upper = max
      if years > max and a.disability == true then
        upper = nil
      end
      return within(years, min, upper), { age = years, min = min, max = max }
    end,
  },

  criterion "plan" {
    text = {
      en = "Has a business project with a submitted business plan",
      fr = "Porte un projet d'entreprise dont le plan d'affaires a été déposé",
      ar = "أن يتوفر على مشروع مقاولة مع إيداع مخطط الأعمال",
    },
    fail = {
      en = "no business project with a submitted business plan",
      fr = "aucun projet d'entreprise avec un plan d'affaires déposé",
      ar = "لا يوجد مشروع مقاولة مع مخطط أعمال مودع",
    },
    pass = {
      en = "business project with a submitted business plan",
      fr = "projet d'entreprise avec un plan d'affaires déposé",
      ar = "مشروع مقاولة مع مخطط أعمال مودع",
    },
    reference = REF .. " : projet et plan d'affaires",
    check = function(a)
      local b = a.business
      return b ~= nil and b.plan_submitted == true
    end,
  },

  criterion "sector" {
    text = {
      en = "Sector other than real estate and finance",
      fr = "Secteur autre que l'immobilier et la finance",
      ar = "أن يكون القطاع غير العقار والمالية",
    },
    fail = {
      en = "no business project, or an excluded sector (sector: {sector|business.sector}; real estate and finance are excluded)",
      fr = "aucun projet d'entreprise, ou un secteur exclu (secteur : {sector|business.sector} ; l'immobilier et la finance sont exclus)",
      ar = "لا يوجد مشروع مقاولة، أو أن القطاع مستثنى (القطاع: {sector|business.sector}؛ العقار والمالية مستثنيان)",
    },
    pass = {
      en = "sector {sector|business.sector} is eligible",
      fr = "le secteur « {sector|business.sector} » est éligible",
      ar = "قطاع {sector|business.sector} مؤهل",
    },
    reference = REF .. " : secteurs éligibles",
    check = function(a)
      local b = a.business
      if b == nil then
        return false, { sector = NONE }
      end
      return not is_in(b.sector, { "real_estate", "finance" }), { sector = b.sector }
    end,
  },

  criterion "cost" {
    text = {
      en = "Project cost at most {intelaka.cost_max} MAD",
      fr = "Coût du projet au plus égal à {intelaka.cost_max} MAD",
      ar = "ألا تتجاوز كلفة المشروع {intelaka.cost_max} درهم",
    },
    fail = {
      en = "no business project, or a project cost above the ceiling of {max} MAD (cost: {cost})",
      fr = "aucun projet d'entreprise, ou un coût du projet supérieur au plafond de {max} MAD (coût : {cost})",
      ar = "لا يوجد مشروع مقاولة، أو أن كلفة المشروع تتجاوز السقف المحدد في {max} درهم (الكلفة: {cost})",
    },
    pass = {
      en = "project cost {cost} MAD is within the ceiling of {max} MAD",
      fr = "le coût du projet de {cost} MAD ne dépasse pas le plafond de {max} MAD",
      ar = "كلفة المشروع {cost} درهم لا تتجاوز السقف المحدد في {max} درهم",
    },
    reference = REF .. " : plafond du coût du projet",
    check = function(a)
      local b, max = a.business, param "intelaka.cost_max"
      if b == nil then
        return false, { cost = NONE, max = max }
      end
      return cents(b.project_cost) <= cents(max), { cost = b.project_cost, max = max }
    end,
  },

  criterion "contribution" {
    text = {
      en = "Own contribution at least {intelaka.contribution_min_percent}% of the project cost",
      fr = "Apport personnel d'au moins {intelaka.contribution_min_percent} % du coût du projet",
      ar = "ألا تقل المساهمة الذاتية عن {intelaka.contribution_min_percent}% من كلفة المشروع",
    },
    fail = {
      en = "no business project, or an own contribution below {pct}% of the project cost (contribution: {own}, cost: {cost})",
      fr = "aucun projet d'entreprise, ou un apport personnel inférieur à {pct} % du coût du projet (apport : {own}, coût : {cost})",
      ar = "لا يوجد مشروع مقاولة، أو أن المساهمة الذاتية تقل عن {pct}% من كلفة المشروع (المساهمة: {own}، الكلفة: {cost})",
    },
    pass = {
      en = "own contribution {own} MAD is at least {pct}% of the project cost of {cost} MAD",
      fr = "l'apport personnel de {own} MAD représente au moins {pct} % du coût du projet de {cost} MAD",
      ar = "المساهمة الذاتية {own} درهم لا تقل عن {pct}% من كلفة المشروع البالغة {cost} درهم",
    },
    reference = REF .. " : apport personnel",
    check = function(a)
      local b, pct = a.business, param "intelaka.contribution_min_percent"
      if b == nil then
        return false, { own = NONE, cost = NONE, pct = pct }
      end
      -- At least pct% of the cost, exactly: own x 100 >= cost x pct, in centimes.
      local own, cost = cents(b.own_contribution), cents(b.project_cost)
      return own * 100 >= cost * pct, { own = b.own_contribution, cost = b.project_cost, pct = pct }
    end,
  },

  criterion "no_recent" {
    text = {
      en = "No Intelaka benefit in the {intelaka.no_recent_months} months before the decision date",
      fr = "N'a pas bénéficié du programme Intelaka dans les {intelaka.no_recent_months} mois précédant la date de la décision",
      ar = "عدم الاستفادة من برنامج انطلاقة خلال {intelaka.no_recent_months} شهرا قبل تاريخ القرار",
    },
    fail = {
      en = "Intelaka benefit on {date}, within the {months} months before the decision date",
      fr = "a bénéficié du programme Intelaka le {date}, dans les {months} mois précédant la date de la décision",
      ar = "استفادة من برنامج انطلاقة بتاريخ {date}، خلال {months} شهرا قبل تاريخ القرار",
    },
    pass = {
      en = "no Intelaka benefit in the {months} months before the decision date",
      fr = "n'a pas bénéficié du programme Intelaka dans les {months} mois précédant la date de la décision",
      ar = "لا استفادة من برنامج انطلاقة خلال {months} شهرا قبل تاريخ القرار",
    },
    reference = REF .. " : non-cumul",
    check = function(a, on)
      local months = param "intelaka.no_recent_months"
      local recent = benefit_within(a.previous_benefits, "intelaka", months, on)
      if recent then
        return false, { date = recent.date, months = months }
      end
      return true, { months = months }
    end,
  },
}
