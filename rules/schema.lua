-- The applicant record, as every programme in this directory reads it.
--
-- Each field is declared with its type.  An application whose values do not
-- match (a text where a boolean is expected, an impossible date such as
-- 2023-02-30, a sector not in the list) is refused as `invalid_applicant`
-- naming the field.  A field may be left out of an application: the criteria
-- that need it are then `missing`.  Only the fields declared `nullable` may be
-- sent as null, and null means "known: there is none".

-- The education levels, lowest first.  `at_least(x, "bac", "education")`
-- compares on this scale.  Each enum and scale gives its values display
-- names (labels) in French and Arabic, and in English where the code is not
-- plain English: a message template's {x|education} shows x by them.
scale "education" { "none", "primary", "secondary", "bac", "bac+2", "bac+3", "bac+5", "doctorate",
  labels = {
    fr = {
      none = "sans niveau", primary = "primaire", secondary = "secondaire", bac = "baccalauréat",
      ["bac+2"] = "bac+2", ["bac+3"] = "licence (bac+3)", ["bac+5"] = "master (bac+5)",
      doctorate = "doctorat",
    },
    ar = {
      none = "بدون مستوى", primary = "الابتدائي", secondary = "الثانوي", bac = "البكالوريا",
      ["bac+2"] = "بكالوريا + 2", ["bac+3"] = "الإجازة (بكالوريا + 3)",
      ["bac+5"] = "الماستر (بكالوريا + 5)", doctorate = "الدكتوراه",
    },
  },
}

schema {
  applicant_id = "text",
  birth_date = date { not_after = "as_of" },   -- "YYYY-MM-DD", not after the decision date
  nationality = "text",                    -- ISO 3166-1 alpha-2 code: "MA" is Moroccan
  residence = enum { "MA", "abroad",      -- lives in Morocco, or abroad
    labels = {
      en = { MA = "in Morocco" },
      fr = { MA = "au Maroc", abroad = "à l'étranger" },
      ar = { MA = "بالمغرب", abroad = "بالخارج" },
    },
  },
  region = "text",                         -- one of Morocco's twelve regions, as written by the agency
  education = enum "education",            -- highest level reached, on the scale above
  registered_with_agency = "boolean",      -- registered as a job seeker with the employment agency
  employment_status = enum { "unemployed", "employed", "student", "self_employed",
    labels = {
      en = { self_employed = "self-employed" },
      fr = { unemployed = "sans emploi", employed = "salarié", student = "étudiant",
             self_employed = "travailleur indépendant" },
      ar = { unemployed = "البطالة", employed = "العمل المأجور", student = "متابعة الدراسة",
             self_employed = "العمل المستقل" },
    },
  },
  unemployed_since = nullable(date { not_after = "as_of" }),   -- null: the start is not known
  monthly_household_income = "money",      -- MAD per month, the whole household
  household_size = integer { min = 1 },   -- persons living on that income, the applicant included
  disability = "boolean",                  -- holds a disability card
  in_training = "boolean",                 -- currently following a training course

  -- The applicant's business project or activity; null when there is none.
  business = nullable(record {
    sector = enum { "commerce", "industry", "crafts", "agriculture",
                    "services", "digital", "tourism", "real_estate", "finance",
      labels = {
        en = { real_estate = "real estate" },
        fr = { commerce = "commerce", industry = "industrie", crafts = "artisanat",
               agriculture = "agriculture", services = "services", digital = "numérique",
               tourism = "tourisme", real_estate = "immobilier", finance = "finance" },
        ar = { commerce = "التجارة", industry = "الصناعة", crafts = "الصناعة التقليدية",
               agriculture = "الفلاحة", services = "الخدمات", digital = "الاقتصاد الرقمي",
               tourism = "السياحة", real_estate = "العقار", finance = "المالية" },
      },
    },
    plan_submitted = "boolean",            -- the business plan has been handed in
    project_cost = "money",                -- MAD, the whole project
    own_contribution = "money",            -- MAD the applicant puts in
    expected_turnover = "money",           -- MAD per year
    legal_form = enum { "none", "auto_entrepreneur", "sarl", "sarl_au", "snc", "sa", "cooperative",
      labels = {
        en = { none = "natural person", auto_entrepreneur = "auto-entrepreneur",
               sarl = "SARL", sarl_au = "single-member SARL", snc = "SNC", sa = "SA" },
        fr = { none = "personne physique", auto_entrepreneur = "auto-entrepreneur",
               sarl = "société à responsabilité limitée (SARL)",
               sarl_au = "SARL à associé unique (SARL AU)",
               snc = "société en nom collectif (SNC)", sa = "société anonyme (SA)",
               cooperative = "coopérative" },
        ar = { none = "شخص ذاتي", auto_entrepreneur = "المقاول الذاتي",
               sarl = "شركة ذات مسؤولية محدودة", sarl_au = "شركة ذات مسؤولية محدودة بشريك وحيد",
               snc = "شركة التضامن", sa = "شركة المساهمة", cooperative = "تعاونية" },
      },
    },
  }),

  -- Programmes the applicant has already benefited from, with the date each
  -- benefit started (any order; programmes outside this directory may appear).
  previous_benefits = list(record { program = "text", date = "date" }),
}
