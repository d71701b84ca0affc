//! Skatteverket's test personnummer: the only identity numbers the samples use.
//!
//! # Provenance
//!
//! Skatteverket publishes a list of test personnummer that are never assigned
//! to real people, precisely so that systems can be tested without touching
//! anyone's identity. The entries were read from a copy of that list
//! (`testdata/allPins.json` of the `personnummer/meta` repository), excerpt by
//! excerpt. For the birth dates below they follow a simple rule, which was
//! checked against every entry of the excerpts covering them; födelsenummer
//! 238 is even (a woman), 239 is odd (a man), and the last digit is the Luhn
//! check digit over the ten-digit form `YYMMDDNNN`:
//!
//! - span A0, 1990-01-14 ..= 1991-01-13: both 238 and 239 exist for every date
//!   (the list's few extra entries with other serials there are not used; the
//!   days before it lack a gender, e.g. 1990-01-13 has only 239);
//! - span A, 1991-01-14 ..= 1992-02-18: both 238 and 239 exist for every date;
//! - span B, 1992-12-13 ..= 1993-12-31: both 238 and 239 exist for every date;
//! - span C, 1994-01-01 ..= 1999-12-31: exactly one number per date, serial 239
//!   (a man) if the day of the year is odd XOR the year is 1995 or 1998,
//!   otherwise 238 (a woman); 1999-01-01 has no entry.
//!
//! Before 1990 the list follows no rule: in the excerpts read, birth years
//! 1955–1989 have about two entries a month on irregular dates (irregular
//! serials in the 1950s and 1960s, serials 92x–99x for 1979–1986, 238/239 for
//! 1987–1989) and none at all for 1969, 1972–1974 and 1976–1978, so the ages
//! those years stand for cannot be drawn. For those years this module carries the
//! entries themselves: [`LISTED`] holds, copied verbatim, every entry born
//! 1955-01-01 ..= 1989-12-31 of the two list excerpts at character offsets
//! 100 000 and 116 000 of that file (610 entries), and only those are produced.
//!
//! # Why this is safe
//!
//! [`test_number`] only ever returns numbers of Skatteverket's published test
//! list: the rule is applied only inside the spans where it was checked
//! against the list, the older numbers are the list's own entries, and nothing
//! else is ever produced (`None` instead). The tests in `testpnr_check.rs` pin
//! the rule to literal entries of the list and check that every listed entry is
//! a well-formed number with a valid check digit.

use chrono::{Datelike, NaiveDate};

use crate::ymd;

/// First birth date for which a test number is produced: the first [`LISTED`] entry.
pub const EARLIEST_BIRTH_DATE: NaiveDate = ymd(1955, 1, 14);
/// Start of span A, where the Kalmar samples' pool starts drawing.
///
/// It stays at span A's first date, not [`EARLIEST_BIRTH_DATE`], so that the
/// older numbers added later cannot reshuffle the shipped Kalmar files.
pub const FIRST_BIRTH_DATE: NaiveDate = ymd(1991, 1, 14);
/// Last birth date for which a test number is produced.
pub const LAST_BIRTH_DATE: NaiveDate = ymd(1999, 12, 31);

/// Birth dates where the list has both a woman's (238) and a man's (239) number.
const BOTH_GENDERS: [(NaiveDate, NaiveDate); 3] = [
    (ymd(1990, 1, 14), ymd(1991, 1, 13)),
    (FIRST_BIRTH_DATE, ymd(1992, 2, 18)),
    (ymd(1992, 12, 13), ymd(1993, 12, 31)),
];
/// Birth dates where the list has one number per date, gender by [`serial_in_one_per_date_span`].
const ONE_PER_DATE: (NaiveDate, NaiveDate) = (ymd(1994, 1, 1), LAST_BIRTH_DATE);
/// The one date inside the one-per-date span that the list skips.
const MISSING_DATE: NaiveDate = ymd(1999, 1, 1);

/// The list's own entries for birth dates 1955-01-01 ..= 1989-12-31, where it
/// follows no rule; sorted, so that lookups can bisect.
#[rustfmt::skip] // six entries a line: one per line would be 600 lines of digits
pub const LISTED: [&str; 610] = [
    "195501142284", "195501212137", "195501292303", "195502052656", "195502242687", "195502272684",
    "195503071739", "195503071754", "195503071770", "195503071796", "195503071812", "195503071887",
    "195503072026", "195503072042", "195503072067", "195503072083", "195503142027", "195503172370",
    "195503262684", "195504162776", "195505072529", "195505103613", "195505282250", "195506072882",
    "195506302388", "195507122355", "195507252301", "195508012647", "195508112561", "195508142592",
    "195509132386", "195509222526", "195509292891", "195510152167", "195510222259", "195511082660",
    "195511262213", "195512162784", "195512262667", "195601132334", "195601222861", "195602072653",
    "195602192683", "195603032193", "195603212696", "195603313122", "195604062595", "195604122795",
    "195605082642", "195605232775", "195606041324", "195606172798", "195606182748", "195607222394",
    "195607302329", "195608082656", "195609052385", "195609082895", "195609192819", "195609272819",
    "195610132382", "195610282476", "195611012765", "195611242859", "195611262857", "195612072545",
    "195701292897", "195702182568", "195702272872", "195703122621", "195703213032", "195704133106",
    "195705082633", "195705172590", "195706012274", "195706202610", "195706262630", "195708182810",
    "195709112790", "195709263080", "195710142653", "195710152199", "195710312686", "195711092642",
    "195711212893", "195712302842", "195801082743", "195801122655", "195801263053", "195802142785",
    "195802232636", "195803012805", "195803193258", "195804043643", "195805133138", "195805223087",
    "195806073077", "195807072813", "195807112643", "195807133052", "195807302996", "195808052384",
    "195809092652", "195809132896", "195809262743", "195810033356", "195810302868", "195811112217",
    "195811123073", "195811243269", "195812092830", "195812193091", "195901022995", "195901232602",
    "195902010353", "195902173391", "195902262806", "195903133279", "195903302783", "195904223350",
    "195905022876", "195905052881", "195905143391", "195906113187", "195907113178", "195907142599",
    "195907153174", "195908202673", "195909092990", "195909122821", "195909263070", "195910162642",
    "195910192631", "195910312577", "195911032620", "195911142817", "195911172939", "195912232849",
    "196001062626", "196001209136", "196001252532", "196001282570", "196002142682", "196002262852",
    "196003102628", "196003180988", "196003242879", "196004182843", "196005032872", "196005043119",
    "196005272809", "196006172818", "196007083121", "196007212613", "196008133065", "196009052991",
    "196009172336", "196009302560", "196010113030", "196010192679", "196010272661", "196011112775",
    "196011242820", "196011282834", "196012172737", "196101122650", "196101182803", "196101242797",
    "196102083141", "196102133177", "196103043698", "196103123227", "196103213499", "196104032898",
    "196104153488", "196105162652", "196105273269", "196106143495", "196107102862", "196107162791",
    "196107293059", "196108193175", "196108283166", "196109072972", "196109282829", "196110023055",
    "196110182547", "196111112956", "196111202989", "196112072654", "196112122871", "196201082697",
    "196201122808", "196202103138", "196202252760", "196203173056", "196203233066", "196204142852",
    "196205143248", "196205262816", "196206193143", "196207142842", "196207213098", "196207232882",
    "196207233047", "196208132834", "196208272846", "196209132767", "196209223152", "196210012842",
    "196210053143", "196210313117", "196211022766", "196211173148", "196211262834", "196212023144",
    "196212282583", "196301022866", "196301193121", "196301202633", "196302062846", "196302273351",
    "196303113366", "196303275793", "196304213389", "196305073345", "196305113174", "196305183144",
    "196306163400", "196306253151", "196307312774", "196308142782", "196308212817", "196309232962",
    "196310072993", "196310262628", "196311292608", "196312123240", "196401053076", "196401222861",
    "196402123191", "196402183377", "196402283367", "196403013417", "196403193771", "196403273169",
    "196404094739", "196404153832", "196405112985", "196405183630", "196406103405", "196407133252",
    "196407313607", "196408073416", "196408102991", "196408233234", "196409053086", "196409294698",
    "196410102880", "196410243056", "196411193086", "196411283499", "196412283647", "196501022773",
    "196501133372", "196501253063", "196502013755", "196502023143", "196502103614", "196503143254",
    "196503184589", "196504203792", "196505092962", "196505153293", "196506232880", "196507132758",
    "196507182795", "196507233721", "196508122857", "196508163257", "196510113050", "196510313114",
    "196512073245", "196512123339", "196601062620", "196601142976", "196602103464", "196602233196",
    "196603143428", "196603193373", "196603233724", "196604072618", "196604072634", "196604072659",
    "196604072667", "196604072675", "196604072683", "196604072691", "196604072766", "196604072782",
    "196604072808", "196604273083", "196605183398", "196605253225", "196606063193", "196607113146",
    "196608152846", "196608182942", "196608253081", "196704033452", "196705053723", "196705203252",
    "196707182991", "196707293467", "196708133076", "196708282584", "196709132887", "196709192642",
    "196709272691", "196710083103", "196710313195", "196711092681", "196711222940", "196711273026",
    "196711302635", "196712032884", "196712272647", "196801029288", "196801249290", "196802149283",
    "196802169265", "196802279296", "196804159264", "196805029268", "196805229272", "196805249288",
    "197001239297", "197006121144", "197101169295", "197103011032", "197109259288", "197110021834",
    "197503259280", "197503309176", "197504049292", "197504249215", "197901049283", "197901249297",
    "197902069272", "197902199285", "197903169261", "197903309230", "197904079295", "197904299281",
    "197905169251", "197905209289", "197906189282", "197906209239", "197907099282", "197907179191",
    "197908089274", "197908109288", "197909089265", "197909189230", "197910039283", "197910209290",
    "197911109291", "197911239262", "197912129280", "197912309296", "198001139297", "198001249286",
    "198002079294", "198002289224", "198003119255", "198003219295", "198004119288", "198004209295",
    "198005049294", "198005149284", "198006089240", "198006299252", "198007199295", "198007299285",
    "198008209275", "198008289285", "198009139265", "198009269252", "198010229238", "198010279266",
    "198011159285", "198011169235", "198012109289", "198012279272", "198101079294", "198101199282",
    "198102179291", "198102259267", "198103179241", "198103269299", "198104059293", "198104239267",
    "198105109253", "198105169281", "198106039228", "198106079257", "198107039276", "198107249289",
    "198108119291", "198108189260", "198109079296", "198109249287", "198110019299", "198110259283",
    "198111289297", "198111309285", "198112199289", "198112279297", "198201179283", "198201209296",
    "198202029289", "198202119296", "198203249274", "198203269264", "198204179298", "198204259264",
    "198205049250", "198205159281", "198206139290", "198206169289", "198207059299", "198207169288",
    "198208059280", "198208149297", "198209109282", "198209189292", "198210099290", "198210159284",
    "198211039295", "198211289288", "198212019296", "198212299286", "198301109289", "198301199298",
    "198302099265", "198302249274", "198303169281", "198303229291", "198304149282", "198304179297",
    "198305039292", "198305119284", "198306219299", "198306259287", "198307189285", "198307259294",
    "198308179285", "198308299299", "198309119264", "198309239294", "198310159283", "198310219277",
    "198311089299", "198311209285", "198312109252", "198312319281", "198401219293", "198401279289",
    "198402179298", "198402289287", "198403169280", "198403229290", "198404189287", "198404279294",
    "198405149280", "198405299291", "198406079288", "198406279292", "198407119281", "198407319295",
    "198408099284", "198408199290", "198409209296", "198409219287", "198410039278", "198410299286",
    "198411239299", "198411279287", "198412099296", "198412179288", "198501139995", "198501169885",
    "198502069993", "198502089884", "198503149885", "198503209895", "198504129886", "198504199897",
    "198505069883", "198505229891", "198506119992", "198506149882", "198507129990", "198507269887",
    "198508199885", "198508269993", "198509129881", "198509199991", "198510039889", "198510219994",
    "198511179882", "198511299995", "198512089882", "198512269997", "198601049995", "198601189882",
    "198602029996", "198602179882", "198603139885", "198603249999", "198604069883", "198604299993",
    "198605119885", "198605219990", "198606089889", "198606129990", "198607039990", "198607209882",
    "198608109990", "198608199884", "198609259992", "198609309888", "198610109996", "198610279880",
    "198611149991", "198611239883", "198612199995", "198612229883", "198701022389", "198701092390",
    "198702072391", "198702192389", "198703122385", "198703142391", "198704102386", "198704202392",
    "198705212382", "198705232398", "198706172387", "198706192393", "198707012392", "198707052380",
    "198708122380", "198708132397", "198709132396", "198709232386", "198710152391", "198710162382",
    "198711092380", "198711192396", "198712072399", "198712092389", "198801082382", "198801162390",
    "198802192388", "198802292394", "198803042384", "198803162398", "198804112392", "198804152380",
    "198805172387", "198805192393", "198806192392", "198806242387", "198807132397", "198807222388",
    "198808112380", "198808112398", "198809122396", "198809132387", "198810032386", "198810112394",
    "198811132383", "198811162398", "198812132382", "198812242397", "198901012388", "198901172398",
    "198902232381", "198902252397", "198903082389", "198903152398", "198904102392", "198904252387",
    "198905112390", "198905252386", "198906152395", "198906202380", "198907032380", "198907252392",
    "198908032389", "198908102398", "198909142393", "198909152384", "198910102386", "198910272395",
    "198911142381", "198911222399", "198912082396", "198912232389",
];

const WOMAN_SERIAL: u32 = 238;
const MAN_SERIAL: u32 = 239;

/// The 12-digit test personnummer `YYYYMMDDNNNC` for a birth date and gender.
///
/// `None` outside the checked spans and the listed entries, or where the list
/// has no number of that gender on that date. Where the list has several
/// entries of one gender on a date, this is the first; [`numbers_between`]
/// yields them all.
pub fn test_number(date: NaiveDate, woman: bool) -> Option<String> {
    rule_number(date, woman).or_else(|| listed_on(date, woman).next().map(str::to_owned))
}

/// The number the rule of spans A0–C gives, `None` outside them.
fn rule_number(date: NaiveDate, woman: bool) -> Option<String> {
    let wanted = if woman { WOMAN_SERIAL } else { MAN_SERIAL };
    let serial = if BOTH_GENDERS
        .iter()
        .any(|&(first, last)| (first..=last).contains(&date))
    {
        wanted
    } else if (ONE_PER_DATE.0..=ONE_PER_DATE.1).contains(&date) && date != MISSING_DATE {
        let serial = serial_in_one_per_date_span(date);
        if serial != wanted {
            return None;
        }
        serial
    } else {
        return None;
    };
    let short = format!(
        "{:02}{:02}{:02}{serial}",
        date.year() % 100,
        date.month(),
        date.day()
    );
    let check = luhn_check_digit(&short);
    Some(format!("{}{short}{check}", date.year() / 100))
}

/// The [`LISTED`] entries born on `date` of one gender, in list order.
fn listed_on(date: NaiveDate, woman: bool) -> impl Iterator<Item = &'static str> {
    let day = date.format("%Y%m%d").to_string();
    let from = LISTED.partition_point(|number| &number[..8] < day.as_str());
    LISTED[from..]
        .iter()
        .copied()
        .take_while(move |number| number[..8] == day)
        // Kön is the parity of the serial's last digit, the number's 11th.
        .filter(move |number| (number.as_bytes()[10] % 2 == 0) == woman)
}

/// The serial the list has in span C: the published pattern alternates by day
/// of year, with the phase flipped in 1995 and 1998.
fn serial_in_one_per_date_span(date: NaiveDate) -> u32 {
    let odd_day = date.ordinal() % 2 == 1;
    let flipped_year = matches!(date.year(), 1995 | 1998);
    if odd_day ^ flipped_year {
        MAN_SERIAL
    } else {
        WOMAN_SERIAL
    }
}

/// All test numbers of one gender with a birth date in `first..=last`, in date order.
pub fn numbers_between(
    first: NaiveDate,
    last: NaiveDate,
    woman: bool,
) -> impl Iterator<Item = (NaiveDate, String)> {
    // Clamp to the spans so a wide range does not walk centuries of empty days.
    let first = first.max(EARLIEST_BIRTH_DATE);
    let last = last.min(LAST_BIRTH_DATE);
    first
        .iter_days()
        .take_while(move |date| *date <= last)
        .flat_map(move |date| {
            let numbers: Vec<String> = match rule_number(date, woman) {
                Some(number) => vec![number],
                None => listed_on(date, woman).map(str::to_owned).collect(),
            };
            numbers.into_iter().map(move |number| (date, number))
        })
}

/// Whether `number` (12 digits, `YYYYMMDDNNNC`) is one this module produces.
///
/// True exactly for the test numbers of the checked spans and the listed
/// entries; false for anything else, including a test number with a wrong
/// check digit.
pub fn is_test_number(number: &str) -> bool {
    if LISTED.binary_search(&number).is_ok() {
        return true;
    }
    if number.len() != 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let field = |range: std::ops::Range<usize>| number[range].parse::<u32>().ok();
    let (Some(year), Some(month), Some(day), Some(serial)) =
        (field(0..4), field(4..6), field(6..8), field(8..11))
    else {
        return false;
    };
    let Some(date) = i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
    else {
        return false;
    };
    rule_number(date, serial % 2 == 0).as_deref() == Some(number)
}

/// Luhn check digit over the ten-digit form's first nine digits, as Skatteverket computes it.
fn luhn_check_digit(nine_digits: &str) -> u32 {
    let sum: u32 = nine_digits
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
        .map(|(i, digit)| {
            // Weights 2,1,2,1,… from the left; a two-digit product counts by its digits.
            let product = if i % 2 == 0 { digit * 2 } else { digit };
            product / 10 + product % 10
        })
        .sum();
    (10 - sum % 10) % 10
}
