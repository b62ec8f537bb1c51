package kg

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Neo4j's import tool reads these files with its defaults: ',' between
// fields, '"' around them (a quote inside doubled, as RFC 4180 has it), ';'
// between array items, and no field spanning lines.
//
//	neo4j-admin database import full neo4j --nodes=entities.csv --relationships=cooccurs.csv

// Neo4j file headers and the relationship type.
var (
	NodesHeader         = []string{"entityId:ID", "name", "label:LABEL", "archetype", "mentions:int", "documents:int"}
	RelationshipsHeader = []string{":START_ID", ":END_ID", ":TYPE", "count:int", "examples:string[]"}
)

// CoOccurs is the relationship type of co-occurrence edges.
const CoOccurs = "CO_OCCURS"

// WriteNeo4jNodes writes entities as a node file, one node per entity,
// labelled with Neo4jLabel of its label.
func WriteNeo4jNodes(w io.Writer, ents []Entity) error {
	cw := csv.NewWriter(w)
	cw.Write(NodesHeader)
	for _, e := range ents {
		cw.Write([]string{e.ID, oneLine(e.Name), Neo4jLabel(e.Label), oneLine(string(e.Archetype)),
			strconv.Itoa(e.Mentions), strconv.Itoa(e.Documents)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteNeo4jRelationships writes edges as a relationship file of type
// CoOccurs. Example document ids are joined with ';', so in each id '%',
// ';' and line breaks are percent-encoded ("%25", "%3B", "%0A", "%0D").
func WriteNeo4jRelationships(w io.Writer, edges []Edge) error {
	cw := csv.NewWriter(w)
	cw.Write(RelationshipsHeader)
	for _, e := range edges {
		ex := make([]string, len(e.Examples))
		for i, d := range e.Examples {
			ex[i] = arrayEscaper.Replace(d)
		}
		cw.Write([]string{e.Source, e.Target, CoOccurs, strconv.Itoa(e.Count), strings.Join(ex, ";")})
	}
	cw.Flush()
	return cw.Error()
}

var arrayEscaper = strings.NewReplacer("%", "%25", ";", "%3B", "\n", "%0A", "\r", "%0D")

// oneLine replaces line breaks with spaces: the import tool reads one
// record per line unless told otherwise.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// Neo4jLabel turns a schema label into a Neo4j node label that needs no
// quoting in Cypher: letters, digits and '_', starting with a letter.
// Every other character becomes '_'; a label starting with a digit or '_'
// gets an "L" in front; an empty label is "Entity".
func Neo4jLabel(label string) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return '_'
	}, label)
	if s == "" {
		return "Entity"
	}
	if r := []rune(s)[0]; !unicode.IsLetter(r) {
		s = "L" + s
	}
	return s
}
