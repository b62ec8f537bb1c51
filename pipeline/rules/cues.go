package rules

import "strings"

// set builds a string set from space-separated words.
func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// funcWords are capitalised only because they start a sentence (or a
// heading); they never start a name. Compared in lower case.
var funcWords = set(`a an the this that these those there here it its he she his her hers him they them their theirs we our us you your i me my
in on at by for from to of with without within into onto upon over under above below after before during since until while when where whence why how what which who whom whose whether
and but or nor so yet also although though because if unless as than then thus hence however moreover furthermore nevertheless nonetheless meanwhile otherwise therefore instead indeed
not no yes all any some many much more most few several each every both either neither other another such same only even just still already again ever never always often sometimes usually later earlier early late soon once twice
is are was were be been being has have had do does did can could may might must shall should will would
one two three four five six seven eight nine ten first second third last next new old
according along among around against between beyond despite except following including like near per regarding toward towards via
today yesterday tomorrow currently recently finally originally initially subsequently additionally similarly alternatively specifically generally typically traditionally eventually
mr mrs ms dr prof sir`)

// firstWordCommon are capitalised words at the start of a sentence that are
// usually ordinary words (verbs, adjectives, nouns), not names.
var firstWordCommon = set(`born died written published released recorded formed founded based located known called named considered described developed designed produced directed
during shortly soon unlike despite although while since upon inside outside
his her their its our my your
many most some several both few various numerous certain
other others another each every all
labeled labelled using used given having being
early late modern ancient classical traditional recent contemporary
in critics fans members scientists researchers historians writers authors musicians politicians
there here
this these those
books music poetry songs albums films novels`)

// connectors may join capitalised words inside one name
// ("University of Paris", "Movement for the Left", "Ludwig van Beethoven").
var connectors = set(`of the for de van von der den du la le les da di del della dos das do y zu ter ten bin ibn al el dei degli`)

// nameParticles are connectors that belong to personal names.
var nameParticles = set(`de van von der den du la le da di del della dos das do zu ter ten bin ibn al el`)

// titles precede a person's name but are not part of it in the data sets
// zeroner targets; they are strong person cues. Lower case.
var titles = set(`vice representative rep. congresswoman delegate mr mr. mrs mrs. ms ms. dr dr. prof prof. professor sir dame lord lady president vice-president senator congressman congresswoman governor mayor chancellor premier minister secretary ambassador judge justice general gen. colonel col. captain capt. lieutenant sergeant admiral commander marshal king queen prince princess emperor empress pope bishop archbishop cardinal reverend rev. father saint st. sheikh ayatollah chairman chairwoman councillor alderman
dj mc`)

// months and weekdays are not entities on their own.
var calendar = set(`january february march april may june july august september october november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday`)

// headCues: a word inside a capitalised name that says what it names.
// Compared as written (capitalised).
var headCues = map[string]kind{
	"University": kUniversity, "Universities": kUniversity, "College": kUniversity, "Universität": kUniversity,
	"Université": kUniversity, "Università": kUniversity, "Universidad": kUniversity, "Universidade": kUniversity,
	"Polytechnic": kUniversity, "Politecnico": kUniversity, "Hochschule": kUniversity,

	"Inc.": kCompany, "Inc": kCompany, "Corp.": kCompany, "Corporation": kCompany, "Company": kCompany,
	"Co.": kCompany, "Ltd": kCompany, "Ltd.": kCompany, "LLC": kCompany, "GmbH": kCompany, "AG": kCompany,
	"Industries": kCompany, "Technologies": kCompany, "Systems": kCompany, "Motors": kCompany,
	"Airlines": kCompany, "Airways": kCompany, "Entertainment": kCompany, "Studios": kCompany, "Pictures": kCompany,
	"Records": kRecordLabel, "Recordings": kRecordLabel, "Music": kRecordLabel,
	"Press": kPublisher, "Publishing": kPublisher, "Publishers": kPublisher, "Books": kPublisher,

	"Institute": kOrg, "Institution": kOrg, "Agency": kOrg, "Association": kOrg, "Society": kOrg,
	"Foundation": kOrg, "Council": kOrg, "Committee": kOrg, "Commission": kOrg, "Bank": kOrg,
	"Laboratory": kOrg, "Laboratories": kOrg, "Lab": kOrg, "Labs": kOrg, "Club": kOrg, "Federation": kOrg,
	"Organization": kOrg, "Organisation": kOrg, "Ministry": kOrg, "Department": kOrg, "Office": kOrg,
	"Service": kOrg, "Board": kOrg, "Authority": kOrg, "Trust": kOrg, "Fund": kOrg, "Academy": kOrg,
	"Centre": kOrg, "Center": kOrg, "Observatory": kOrg, "Museum": kOrg, "Library": kOrg, "Hospital": kOrg,
	"Church": kOrg, "Army": kOrg, "Navy": kOrg, "Force": kOrg, "Corps": kOrg, "Police": kOrg, "Court": kOrg,
	"Assembly": kOrg, "Parliament": kOrg, "Senate": kOrg, "Cabinet": kOrg, "Government": kOrg,
	"Administration": kOrg, "Broadcasting": kOrg, "Television": kOrg, "Radio": kOrg, "Network": kOrg,
	"International": kOrg, "Union": kOrg, "League": kOrg, "Congress": kOrg, "Group": kOrg, "Base": kOrg,
	"Team": kOrg, "Guild": kOrg, "Bureau": kOrg, "Secretariat": kOrg, "Directorate": kOrg,
	"School": kOrg, "Conservatory": kOrg, "Conservatoire": kOrg,

	"Party": kParty, "Parti": kParty, "Partei": kParty, "Partido": kParty, "Partito": kParty, "Partij": kParty,
	"Alliance": kParty, "Front": kParty, "Movement": kParty, "Bloc": kParty, "Coalition": kParty,
	"Democrats": kParty, "Socialists": kParty, "Labour": kParty, "Labor": kParty,

	"Band": kBand, "Orchestra": kBand, "Ensemble": kBand, "Quartet": kBand, "Quintet": kBand, "Trio": kBand,
	"Choir": kBand, "Singers": kBand, "Brothers": kBand, "Boys": kBand, "Girls": kBand,

	"River": kPlace, "Lake": kPlace, "Mountain": kPlace, "Mountains": kPlace, "Mount": kPlace, "Mt.": kPlace,
	"Island": kPlace, "Islands": kPlace, "Isle": kPlace, "Bay": kPlace, "Sea": kPlace, "Ocean": kPlace,
	"Gulf": kPlace, "Valley": kPlace, "Desert": kPlace, "Forest": kPlace, "Peninsula": kPlace, "Coast": kPlace,
	"Hills": kPlace, "Hill": kPlace, "Canyon": kPlace, "Falls": kPlace, "Beach": kPlace, "County": kPlace,
	"Province": kPlace, "City": kPlace, "District": kPlace, "Region": kPlace, "Territory": kPlace,
	"Borough": kPlace, "Township": kPlace, "Village": kPlace, "Heights": kPlace, "Springs": kPlace,
	"Street": kFacility, "Road": kFacility, "Avenue": kFacility, "Square": kFacility, "Bridge": kFacility,
	"Arena": kFacility, "Stadium": kFacility, "Hall": kFacility, "Theatre": kFacility, "Theater": kFacility,
	"Castle": kFacility, "Palace": kFacility, "Cathedral": kFacility, "Abbey": kFacility, "Tower": kFacility,
	"Airport": kFacility, "Station": kFacility, "Park": kFacility, "Garden": kFacility, "Gardens": kFacility,
	"Building": kFacility, "Opera House": kFacility, "Coliseum": kFacility, "Dome": kFacility,

	"War": kWar, "Wars": kWar, "Battle": kWar, "Revolution": kWar, "Rebellion": kWar, "Uprising": kWar,
	"Crisis": kEvent, "Massacre": kEvent, "Siege": kWar, "Invasion": kWar, "Riots": kEvent, "Protests": kEvent,
	"Festival": kFestival, "Olympics": kEvent, "Games": kEvent, "Cup": kEvent, "Championship": kEvent,
	"Championships": kEvent, "Tournament": kEvent, "Tour": kEvent, "Expo": kEvent, "Fair": kEvent,
	"Summit": kEvent, "Contest": kEvent, "Prix": kEvent, "Marathon": kEvent, "Ceremony": kEvent,
	"Olympiad": kEvent, "Eurovision": kEvent, "Jubilee": kEvent, "Expedition": kEvent, "Mission": kEvent,
	"Conference": kConference, "Symposium": kConference, "Workshop": kConference, "Convention": kConference,
	"Meeting": kConference, "Colloquium": kConference,
	"Election": kElection, "Referendum": kElection,

	"Award": kAward, "Awards": kAward, "Prize": kAward, "Prizes": kAward, "Medal": kAward, "Trophy": kAward,
	"Fellowship": kAward, "Fellow": kAward, "Honour": kAward, "Honor": kAward, "Laureate": kAward,

	"Journal": kJournal, "Proceedings": kJournal, "Transactions": kJournal, "Letters": kJournal,
	"Annals": kJournal, "Review": kJournal, "Bulletin": kJournal, "Quarterly": kJournal,
	"Magazine": kMagazine, "Times": kMagazine, "Post": kMagazine, "Herald": kMagazine, "Gazette": kMagazine,
	"Tribune": kMagazine, "Chronicle": kMagazine, "Daily": kMagazine, "Weekly": kMagazine, "Monthly": kMagazine,
	"Telegraph": kMagazine, "Observer": kMagazine, "Courier": kMagazine, "Examiner": kMagazine,
	"Symphony": kComposition, "Concerto": kComposition, "Sonata": kComposition, "Requiem": kComposition,
	"Overture": kComposition, "Suite": kComposition, "Mass": kComposition, "Nocturne": kComposition,

	"Comet": kAstro, "Galaxy": kAstro, "Nebula": kAstro, "Cluster": kAstro, "Belt": kAstro, "Crater": kAstro,
	"Theory": kTheory, "Theorem": kTheory, "Law": kTheory, "Principle": kTheory, "Effect": kTheory,
	"Equation": kTheory, "Hypothesis": kTheory, "Paradox": kTheory, "Conjecture": kTheory,
	"Algorithm": kAlgorithm, "Language": kLanguage,
}

// tailCues: lower-case words that continue a name and say what it names
// ("Tartaric acid", "Viterbi algorithm", "2004 Canadian federal election").
var tailCues = map[string]kind{
	"acid": kCompound, "oxide": kCompound, "dioxide": kCompound, "chloride": kCompound, "hydroxide": kCompound,
	"sulfate": kCompound, "sulphate": kCompound, "nitrate": kCompound, "carbonate": kCompound, "phosphate": kCompound,
	"fluoride": kCompound, "cyanide": kCompound, "peroxide": kCompound, "bromide": kCompound, "iodide": kCompound,
	"hydride": kCompound, "sulfide": kCompound, "acetate": kCompound, "triphosphate": kCompound,
	"polymerase": kEnzyme, "kinase": kEnzyme, "synthase": kEnzyme, "reductase": kEnzyme, "oxidase": kEnzyme,
	"transferase": kEnzyme, "dehydrogenase": kEnzyme, "hydrolase": kEnzyme, "isomerase": kEnzyme,
	"ligase": kEnzyme, "lyase": kEnzyme, "protease": kEnzyme, "lipase": kEnzyme, "nuclease": kEnzyme,
	"phosphatase": kEnzyme, "transcriptase": kEnzyme, "helicase": kEnzyme, "topoisomerase": kEnzyme,
	"protein": kProtein, "receptor": kProtein, "hormone": kProtein, "factor": kProtein, "antibody": kProtein,
	"algorithm": kAlgorithm, "algorithms": kAlgorithm, "method": kAlgorithm, "transform": kAlgorithm,
	"distance": kMetric, "coefficient": kMetric, "score": kMetric, "index": kMetric,
	"language": kLanguage, "languages": kLanguage,
	"music": kMusicGenre, "rock": kMusicGenre, "pop": kMusicGenre, "metal": kMusicGenre, "punk": kMusicGenre,
	"jazz": kMusicGenre, "folk": kMusicGenre, "blues": kMusicGenre, "hip": kMusicGenre,
	"election": kElection, "elections": kElection, "referendum": kElection, "by-election": kElection,
	"leadership": kElection, "primary": kElection, "primaries": kElection,
	"war": kWar, "revolution": kWar,
	"award": kAward, "awards": kAward, "prize": kAward,
	"theory": kTheory, "theorem": kTheory, "law": kTheory, "principle": kTheory, "effect": kTheory,
	"hypothesis": kTheory, "equation": kTheory, "model": kAlgorithm, "test": kAlgorithm,
	"festival": kFestival, "conference": kConference, "workshop": kConference,
	"comet": kAstro, "galaxy": kAstro, "nebula": kAstro, "crater": kAstro, "belt": kAstro, "cloud": kAstro,
}

// electionWords may stand between a year and "election".
var electionWords = set(`general federal presidential parliamentary legislative provincial state municipal local regional national midterm gubernatorial senatorial senate congressional mayoral leadership snap special constitutional assembly council district by- european county city presidential primary party`)

// contextCues are words near a mention that say what it is. Each maps to the
// words calibration matches against labels ("physicist" means a scientist,
// whatever the schema calls one) and to the archetype it suggests.
type cue struct {
	words []string
	arch  string
}

var contextCues = map[string]cue{}

func init() {
	add := func(arch, words, means string) {
		m := strings.Fields(means)
		for _, w := range strings.Fields(words) {
			contextCues[w] = cue{words: m, arch: arch}
		}
	}
	add("person", `physicist physicists chemist chemists biologist biologists astronomer astronomers mathematician mathematicians scientist scientists geologist botanist zoologist naturalist physician physiologist geneticist biochemist neuroscientist psychologist inventor engineer`, "scientist researcher")
	add("person", `researcher researchers professor professors scholar lecturer phd doctorate dissertation thesis postdoctoral laboratory`, "researcher scientist")
	add("person", `novelist novelists poet poets author authors writer writers playwright dramatist essayist journalist critic biographer translator lyricist wrote writing screenwriter columnist memoir`, "writer author")
	add("person", `singer singers songwriter songwriters rapper rappers musician musicians guitarist bassist drummer pianist keyboardist violinist cellist saxophonist trumpeter vocalist vocals composer composers conductor frontman producer dj soloist`, "musician singer artist")
	add("person", `politician politicians president presidents minister ministers senator senators mp mps premier chancellor governor mayor legislator congressman candidate candidates elected leader deputy secretary diplomat ambassador statesman mla councillor`, "politician")
	add("person", `actor actress director filmmaker painter sculptor photographer king queen emperor prince princess pope saint philosopher businessman character footballer athlete`, "person")
	add("person", `he she his her him himself herself born died married wife husband son daughter father mother brother sister`, "person")
	add("creative_work", `album albums ep lp`, "album")
	add("creative_work", `song songs single singles track tracks`, "song")
	add("creative_work", `novel novels book books trilogy novella`, "book")
	add("creative_work", `poem poems`, "poem")
	add("creative_work", `journal journals`, "journal")
	add("creative_work", `magazine magazines newspaper newspapers`, "magazine")
	add("creative_work", `film films movie movies series show sitcom`, "film")
	add("organization", `band bands group groups duo trio`, "band group")
	add("organization", `party parties`, "party")
	add("organization", `company companies label corporation firm`, "company organisation")
	add("organization", `university universities college`, "university")
	add("location", `city town village capital`, "city location")
	add("location", `country countries nation`, "country")
	add("event", `festival`, "festival event")
	add("event", `election elections`, "election")
	add("event", `conference conferences symposium workshop`, "conference")
	add("artifact", `award awards prize`, "award")
	add("computer_science", `algorithm algorithms`, "algorithm")
	add("computer_science", `language languages`, "language programming")
	add("misc", `genre genres style`, "genre")
	add("science", `planet planets moon moons star stars asteroid comet galaxy`, "planet astronomical")
	add("science", `compound compounds`, "compound chemical")
	add("science", `element elements`, "element chemical")
}

// archVocab: words that name kinds of things in each archetype, for
// computing which archetypes a label is compatible with. They extend the
// archetype definitions in package pipeline.
var archVocab = map[string]string{
	"person":           `person people individual human character researcher scientist scholar writer author poet novelist playwright artist musician singer composer rapper politician athlete actor leader player figure`,
	"organization":     `organisation group company university college band ensemble orchestra party agency team publisher institute institution society association broadcaster government parliament club corporation academy label restaurant bar cafe chain`,
	"location":         `location place country nation state city town region province area continent venue arena building facility landmark river mountain geographic territory district constituency`,
	"biology":          `species gene protein enzyme cell organism anatomical hormone receptor antibody biology`,
	"medicine":         `disease symptom drug treatment medical procedure medicine`,
	"food":             `dish food ingredient drink cuisine meal`,
	"vehicle":          `vehicle car aircraft ship train spacecraft`,
	"creative_work":    `work book novel poem song album single track composition film painting journal magazine newspaper publication periodical play record`,
	"event":            `event war battle election referendum festival conference symposium workshop competition ceremony disaster tour revolution contest`,
	"artifact":         `product device instrument weapon award trophy prize medal honour tool robot computer`,
	"computer_science": `programming algorithm software protocol task metric measure library toolkit`,
	"political":        `law treaty policy ideology religion ethnicity political`,
	"science":          `field study discipline theory chemical compound element astronomical planet unit molecule substance`,
	"misc":             `genre language nationality`,
}
