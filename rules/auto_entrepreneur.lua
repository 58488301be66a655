-- The auto-entrepreneur status: a simplified status for a person working on
-- their own account, under law 114-13.
--
-- Every figure a check compares against is a dated parameter declared here: a
-- change of policy is a new dated value, never an edit of a check.  Money is
-- compared in whole centimes (`cents`), so no rounding can decide a case.
--
-- When the applicant has no business (`business` is null), every criterion
-- that reads the business fails.  A message has one template per outcome, so
-- those fail messages name both causes: "no business activity, or ...", with
-- "—" where a value does not exist.

local REF = "Loi n° 114-13 relative au statut de l'auto-entrepreneur"
local NONE = "—"   -- shown in a message for a value that does not exist

parameter "auto_entrepreneur.age_min" {
  reference = REF,
  { from = "2025-01-01", value = 18 },
}
parameter "auto_entrepreneur.turnover_max_commerce" {   -- MAD a year: commerce, industry, crafts, agriculture
  reference = REF .. " : plafond du chiffre d'affaires des activités commerciales, industrielles et artisanales",
  { from = "2025-01-01", value = 500000 },
}
parameter "auto_entrepreneur.turnover_max_services" {   -- MAD a year: services, digital, tourism
  reference = REF .. " : plafond du chiffre d'affaires des prestations de services",
  { from = "2025-01-01", value = 200000 },
}

-- The turnover ceiling of a sector, or nil when the sector has none: real
-- estate and finance cannot take the status at all.
local function turnover_ceiling(sector)
  if is_in(sector, { "commerce", "industry", "crafts", "agriculture" }) then
    return param "auto_entrepreneur.turnover_max_commerce"
  elseif is_in(sector, { "services", "digital", "tourism" }) then
    return param "auto_entrepreneur.turnover_max_services"
  end
  return nil
end

program "auto_entrepreneur" {
  version = "2025.1",
  from = "2025-01-01",
  title = {
    en = "Auto-entrepreneur status",
    fr = "Statut de l'auto-entrepreneur",
    ar = "نظام المقاول الذاتي",
  },
  reference = REF,

  criterion "age" {
    text = {
      en = "Aged {auto_entrepreneur.age_min} or over",
      fr = "Âgé d'au moins {auto_entrepreneur.age_min} ans",
      ar = "أن يكون بالغا من العمر {auto_entrepreneur.age_min} سنة على الأقل",
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
    reference = REF .. " : capacité",
    check = function(a, on)
      local years, min = age(a.birth_date, on), param "auto_entrepreneur.age_min"
      return years >= min, { age = years, min = min }
    end,
  },

  criterion "residency" {
    text = {
      en = "Moroccan nationality or residence in Morocco",
      fr = "Nationalité marocaine ou résidence au Maroc",
      ar = "التوفر على الجنسية المغربية أو الإقامة بالمغرب",
    },
    fail = {
      en = "nationality {nationality} and residence {residence|residence}: neither Moroccan nor resident in Morocco",
      fr = "nationalité {nationality} et résidence {residence|residence} : ni de nationalité marocaine, ni résident au Maroc",
      ar = "الجنسية {nationality} والإقامة {residence|residence}: ليس مغربي الجنسية ولا مقيما بالمغرب",
    },
    pass = {
      en = "Moroccan nationality or residence in Morocco (nationality {nationality}, residence {residence|residence})",
      fr = "nationalité marocaine ou résidence au Maroc (nationalité {nationality}, résidence {residence|residence})",
      ar = "جنسية مغربية أو إقامة بالمغرب (الجنسية: {nationality}، الإقامة: {residence|residence})",
    },
    reference = REF .. " : champ d'application",
    check = function(a)
      -- Either is enough, the other may be left out: a Moroccan national
      -- qualifies wherever they live, a resident of Morocco whatever their
      -- nationality.  Only when neither is shown is the absent one needed.
      if known(a, "nationality") and a.nationality == "MA" then
        return true, { nationality = a.nationality, residence = NONE }
      end
      if known(a, "residence") and a.residence == "MA" then
        return true, { nationality = known(a, "nationality") and a.nationality or NONE, residence = a.residence }
      end
      return false, { nationality = a.nationality, residence = a.residence }
    end,
  },

  criterion "activity" {
    text = {
      en = "Has a business activity in a sector other than real estate and finance",
      fr = "Exerce une activité dans un secteur autre que l'immobilier et la finance",
      ar = "أن يزاول نشاطا في قطاع غير العقار والمالية",
    },
    fail = {
      en = "no business activity, or an excluded sector (sector: {sector|business.sector}; real estate and finance are excluded)",
      fr = "aucune activité, ou un secteur exclu (secteur : {sector|business.sector} ; l'immobilier et la finance sont exclus)",
      ar = "لا يوجد نشاط، أو أن القطاع مستثنى (القطاع: {sector|business.sector}؛ العقار والمالية مستثنيان)",
    },
    pass = {
      en = "activity in the {sector|business.sector} sector, which is eligible",
      fr = "activité dans le secteur « {sector|business.sector} », qui est éligible",
      ar = "نشاط في قطاع {sector|business.sector}، وهو قطاع مؤهل",
    },
    reference = REF .. " : activités exclues",
    check = function(a)
      local b = a.business
      if b == nil then
        return false, { sector = NONE }
      end
      return not is_in(b.sector, { "real_estate", "finance" }), { sector = b.sector }
    end,
  },

  criterion "turnover" {
    text = {
      en = "Expected turnover at most {auto_entrepreneur.turnover_max_commerce} MAD (commerce, industry, crafts, agriculture) or {auto_entrepreneur.turnover_max_services} MAD (services, digital, tourism)",
      fr = "Chiffre d'affaires prévu d'au plus {auto_entrepreneur.turnover_max_commerce} MAD (commerce, industrie, artisanat, agriculture) ou {auto_entrepreneur.turnover_max_services} MAD (services, numérique, tourisme)",
      ar = "ألا يتجاوز رقم المعاملات المتوقع {auto_entrepreneur.turnover_max_commerce} درهم (التجارة والصناعة والصناعة التقليدية والفلاحة) أو {auto_entrepreneur.turnover_max_services} درهم (الخدمات والقطاع الرقمي والسياحة)",
    },
    fail = {
      en = "no business activity, or an expected turnover above the ceiling of its sector (sector: {sector|business.sector}, turnover: {turnover}, ceiling: {max}; real estate and finance have no ceiling)",
      fr = "aucune activité, ou un chiffre d'affaires prévu supérieur au plafond de son secteur (secteur : {sector|business.sector}, chiffre d'affaires : {turnover}, plafond : {max} ; l'immobilier et la finance n'ont pas de plafond)",
      ar = "لا يوجد نشاط، أو أن رقم المعاملات المتوقع يتجاوز سقف القطاع (القطاع: {sector|business.sector}، رقم المعاملات: {turnover}، السقف: {max}؛ لا سقف للعقار والمالية)",
    },
    pass = {
      en = "expected turnover {turnover} MAD is within the ceiling of {max} MAD for the {sector|business.sector} sector",
      fr = "le chiffre d'affaires prévu de {turnover} MAD ne dépasse pas le plafond de {max} MAD du secteur « {sector|business.sector} »",
      ar = "رقم المعاملات المتوقع {turnover} درهم لا يتجاوز سقف {max} درهم المحدد لقطاع {sector|business.sector}",
    },
    reference = REF .. " : plafonds du chiffre d'affaires",
    check = function(a)
      local b = a.business
      if b == nil then
        return false, { sector = NONE, turnover = NONE, max = NONE }
      end
      local max = turnover_ceiling(b.sector)
      if max == nil then           -- no ceiling: the sector cannot take the status
        return false, { sector = b.sector, turnover = NONE, max = NONE }
      end
      return cents(b.expected_turnover) <= cents(max),
        { sector = b.sector, turnover = b.expected_turnover, max = max }
    end,
  },

  criterion "legal_form" {
    text = {
      en = "Legal form: none, or auto-entrepreneur",
      fr = "Forme juridique : aucune, ou auto-entrepreneur",
      ar = "الشكل القانوني: بدون شكل قانوني أو مقاول ذاتي",
    },
    fail = {
      en = "no business activity, or a legal form that rules out the status (legal form: {form|business.legal_form})",
      fr = "aucune activité, ou une forme juridique incompatible avec le statut (forme juridique : {form|business.legal_form})",
      ar = "لا يوجد نشاط، أو أن الشكل القانوني لا يتلاءم مع النظام (الشكل القانوني: {form|business.legal_form})",
    },
    pass = {
      en = "legal form {form|business.legal_form} is compatible with the status",
      fr = "la forme juridique « {form|business.legal_form} » est compatible avec le statut",
      ar = "الشكل القانوني «{form|business.legal_form}» يتلاءم مع النظام",
    },
    reference = REF .. " : personne physique",
    check = function(a)
      local b = a.business
      if b == nil then
        return false, { form = NONE }
      end
      return is_in(b.legal_form, { "none", "auto_entrepreneur" }), { form = b.legal_form }
    end,
  },
}
