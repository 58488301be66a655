-- IDMAJ: the job-insertion contract for young job seekers with a diploma.
--
-- Every figure a check compares against is a dated parameter declared here: a
-- change of policy is a new dated value, never an edit of a check.  Each check
-- returns the values it compared, and the `fail`/`pass` messages show them.

local REF = "Programme IDMAJ (ANAPEC), contrat d'insertion, conditions d'éligibilité"
local NONE = "—"   -- shown in a message for a value that does not exist

parameter "idmaj.age_min" {
  reference = REF,
  { from = "2025-01-01", value = 18 },
}
parameter "idmaj.age_max" {
  reference = REF,
  { from = "2025-01-01", value = 35 },
}
parameter "idmaj.education_min" {
  reference = REF,
  { from = "2025-01-01", value = "bac" },
}
parameter "idmaj.waiting_months" {
  reference = REF,
  { from = "2025-01-01", value = 6 },
}
parameter "idmaj.waiting_waived_from" {     -- the education level that waives the wait
  reference = REF,
  { from = "2025-01-01", value = "bac+3" },
}
parameter "idmaj.no_recent_months" {
  reference = REF,
  { from = "2025-01-01", value = 24 },
}

program "idmaj" {
  version = "2025.1",
  from = "2025-01-01",
  title = {
    en = "IDMAJ: job-insertion contract",
    fr = "IDMAJ : contrat d'insertion",
    ar = "إدماج: عقد الإدماج المهني",
  },
  reference = REF,

  criterion "age" {
    text = {
      en = "Aged {idmaj.age_min} to {idmaj.age_max}",
      fr = "Âgé de {idmaj.age_min} à {idmaj.age_max} ans",
      ar = "أن يتراوح السن بين {idmaj.age_min} و{idmaj.age_max} سنة",
    },
    fail = {
      en = "age {age} is outside the limits of {min} to {max}",
      fr = "l'âge de {age} ans est hors des limites de {min} à {max} ans",
      ar = "السن {age} خارج الحدود المطلوبة من {min} إلى {max} سنة",
    },
    pass = {
      en = "age {age} is within {min} to {max}",
      fr = "l'âge de {age} ans est compris entre {min} et {max} ans",
      ar = "السن {age} ضمن الحدود من {min} إلى {max} سنة",
    },
    reference = REF .. " : âge",
    check = function(a, on)
      local years = age(a.birth_date, on)
      local min, max = param "idmaj.age_min", param "idmaj.age_max"
      return within(years, min, max), { age = years, min = min, max = max }
    end,
  },

  criterion "registered" {
    text = {
      en = "Registered with the employment agency",
      fr = "Inscrit auprès de l'agence pour l'emploi",
      ar = "أن يكون مسجلا لدى وكالة التشغيل",
    },
    fail = {
      en = "not registered with the employment agency",
      fr = "non inscrit auprès de l'agence pour l'emploi",
      ar = "غير مسجل لدى وكالة التشغيل",
    },
    pass = {
      en = "registered with the employment agency",
      fr = "inscrit auprès de l'agence pour l'emploi",
      ar = "مسجل لدى وكالة التشغيل",
    },
    reference = REF .. " : inscription",
    check = function(a)
      return a.registered_with_agency == true
    end,
  },

  criterion "education" {
    text = {
      en = "Education level at least {idmaj.education_min}",
      fr = "Niveau d'études au moins égal à {idmaj.education_min|education}",
      ar = "مستوى دراسي لا يقل عن {idmaj.education_min|education}",
    },
    fail = {
      en = "education level {education} is below the required {min}",
      fr = "le niveau d'études « {education|education} » est inférieur au niveau requis « {min|education} »",
      ar = "المستوى الدراسي «{education|education}» أدنى من المستوى المطلوب «{min|education}»",
    },
    pass = {
      en = "education level {education} is at least {min}",
      fr = "le niveau d'études « {education|education} » est au moins égal à « {min|education} »",
      ar = "المستوى الدراسي «{education|education}» لا يقل عن «{min|education}»",
    },
    reference = REF .. " : diplôme",
    check = function(a)
      local min = param "idmaj.education_min"
      return at_least(a.education, min, "education"), { education = a.education, min = min }
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

  criterion "waiting" {
    text = {
      en = "Unemployed for at least {idmaj.waiting_months} months, or education at least {idmaj.waiting_waived_from}",
      fr = "Sans emploi depuis au moins {idmaj.waiting_months} mois, ou niveau d'études au moins égal à {idmaj.waiting_waived_from|education}",
      ar = "أن يكون في وضعية بطالة منذ {idmaj.waiting_months} أشهر على الأقل، أو أن يكون مستواه الدراسي {idmaj.waiting_waived_from|education} على الأقل",
    },
    fail = {
      en = "the wait is not met: months unemployed since {since}: {months}, below the {min} required, and education {education} is below {degree}",
      fr = "la durée de chômage n'est pas atteinte : {months} mois sans emploi depuis le {since} (au moins {min} requis), et niveau d'études « {education|education} » inférieur à « {degree|education} »",
      ar = "مدة البطالة غير مستوفاة: عدد أشهر البطالة {months} منذ {since} (المطلوب {min} على الأقل)، والمستوى الدراسي «{education|education}» أدنى من «{degree|education}»",
    },
    pass = {
      en = "months unemployed since {since}: {months} (at least {min} required); education {education} ({degree} or above waives the wait)",
      fr = "{months} mois sans emploi depuis le {since} (au moins {min} requis) ; niveau d'études « {education|education} » (à partir de « {degree|education} », la durée de chômage n'est pas exigée)",
      ar = "عدد أشهر البطالة {months} منذ {since} (المطلوب {min} على الأقل)؛ المستوى الدراسي «{education|education}» (ابتداء من «{degree|education}» لا تشترط مدة البطالة)",
    },
    reference = REF .. " : durée de chômage",
    check = function(a, on)
      local min, degree = param "idmaj.waiting_months", param "idmaj.waiting_waived_from"
      -- Either is enough, the other may be left out.  A high enough degree
      -- waives the wait, and then the date is not needed.
      if known(a, "education") and at_least(a.education, degree, "education") then
        -- The date is not needed then, but shown when the application gives it.
        local since = known(a, "unemployed_since") and a.unemployed_since or nil
        local months = since and months_between(since, on)
        return true, { months = months or NONE, since = since or NONE, min = min, education = a.education, degree = degree }
      end
      -- Null: the start of unemployment is not known, so the wait is not shown to be met.
      local since = a.unemployed_since
      local months = since and months_between(since, on)
      if months and months >= min then
        return true, { months = months, since = since, min = min,
                       education = known(a, "education") and a.education or NONE, degree = degree }
      end
      -- The wait not met: only the degree could pass it, so it is needed.
      return false, { months = months or NONE, since = since or NONE, min = min, education = a.education, degree = degree }
    end,
  },

  criterion "no_recent" {
    text = {
      en = "No IDMAJ benefit in the {idmaj.no_recent_months} months before the decision date",
      fr = "N'a pas bénéficié du programme IDMAJ dans les {idmaj.no_recent_months} mois précédant la date de la décision",
      ar = "عدم الاستفادة من برنامج إدماج خلال {idmaj.no_recent_months} شهرا قبل تاريخ القرار",
    },
    fail = {
      en = "IDMAJ benefit on {date}, within the {months} months before the decision date",
      fr = "a bénéficié du programme IDMAJ le {date}, dans les {months} mois précédant la date de la décision",
      ar = "استفادة من برنامج إدماج بتاريخ {date}، خلال {months} شهرا قبل تاريخ القرار",
    },
    pass = {
      en = "no IDMAJ benefit in the {months} months before the decision date",
      fr = "n'a pas bénéficié du programme IDMAJ dans les {months} mois précédant la date de la décision",
      ar = "لا استفادة من برنامج إدماج خلال {months} شهرا قبل تاريخ القرار",
    },
    reference = REF .. " : non-cumul",
    check = function(a, on)
      local months = param "idmaj.no_recent_months"
      local recent = benefit_within(a.previous_benefits, "idmaj", months, on)
      if recent then
        return false, { date = recent.date, months = months }
      end
      return true, { months = months }
    end,
  },
}
