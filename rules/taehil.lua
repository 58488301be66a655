-- TAEHIL: qualifying training for job seekers, to fit them for the jobs on offer.
--
-- Every figure a check compares against is a dated parameter declared here: a
-- change of policy is a new dated value, never an edit of a check.

local REF = "Programme TAEHIL (ANAPEC), formation qualifiante ou de reconversion, conditions d'accès"

parameter "taehil.age_min" {
  reference = REF,
  { from = "2025-01-01", value = 18 },
}
parameter "taehil.age_max" {
  reference = REF,
  { from = "2025-01-01", value = 45 },
}
parameter "taehil.education_min" {
  reference = REF,
  { from = "2025-01-01", value = "bac" },
}

program "taehil" {
  version = "2025.1",
  from = "2025-01-01",
  title = {
    en = "TAEHIL: qualifying training",
    fr = "TAEHIL : formation qualifiante",
    ar = "تأهيل: التكوين التأهيلي",
  },
  reference = REF,

  criterion "age" {
    text = {
      en = "Aged {taehil.age_min} to {taehil.age_max}",
      fr = "Âgé de {taehil.age_min} à {taehil.age_max} ans",
      ar = "أن يتراوح السن بين {taehil.age_min} و{taehil.age_max} سنة",
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
      local min, max = param "taehil.age_min", param "taehil.age_max"
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
      en = "Education level at least {taehil.education_min}",
      fr = "Niveau d'études au moins égal à {taehil.education_min|education}",
      ar = "مستوى دراسي لا يقل عن {taehil.education_min|education}",
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
    reference = REF .. " : niveau d'études",
    check = function(a)
      local min = param "taehil.education_min"
      return at_least(a.education, min, "education"), { education = a.education, min = min }
    end,
  },

  criterion "not_in_training" {
    text = {
      en = "Not currently in training",
      fr = "Ne suit pas actuellement de formation",
      ar = "ألا يكون متابعا لتكوين حاليا",
    },
    fail = {
      en = "currently in training",
      fr = "suit actuellement une formation",
      ar = "يتابع حاليا تكوينا",
    },
    pass = {
      en = "not currently in training",
      fr = "ne suit pas de formation actuellement",
      ar = "لا يتابع أي تكوين حاليا",
    },
    reference = REF .. " : non-cumul avec une autre formation",
    check = function(a)
      return a.in_training == false
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
}
