package convert

import "strconv"

// kind selects how the text of a value becomes JSON. Each kind follows the
// category that PostgreSQL's to_jsonb assigns to a type.
type kind uint8

const (
	kindText        kind = iota // any other type: the text as a JSON string
	kindBool                    // boolean: true or false
	kindInteger                 // smallint, integer, bigint: the text is a JSON number
	kindNumber                  // numeric, real, double precision: numeric_out's form
	kindJSON                    // json: embedded, with numbers as jsonb stores them
	kindJSONB                   // jsonb: embedded as is
	kindDate                    // date: ISO text, checked
	kindTimestamp               // timestamp: ISO 8601 with a T
	kindTimestampTZ             // timestamptz: ISO 8601 with a T and a +hh:mm offset
	kindBytea                   // bytea: hex text "\x..."
	kindInt2Vector              // int2vector: space-separated, becomes an array of numbers
	kindOIDVector               // oidvector: space-separated, becomes an array of strings
	kindArray                   // any array type: a JSON array of its elements
	kindComposite               // composite types: a JSON object keyed by attribute name
)

// typeInfo is everything the conversion needs to know about one type. It is
// immutable once built, so a Registry shares it between goroutines.
type typeInfo struct {
	oid  uint32
	name string
	kind kind

	// delim is the type's own array delimiter (typdelim): arrays of this
	// type separate their elements with it.
	delim byte

	// elem is the element type of an array.
	elem *typeInfo

	// fields are the attributes of a composite type, in attribute order.
	fields []field
}

// field is one attribute of a composite type.
type field struct {
	name string
	key  []byte // the name as a JSON string followed by a colon
	typ  *typeInfo
}

// scalarKinds maps the built-in types whose to_jsonb form is not a plain
// string to their kind.
var scalarKinds = map[uint32]kind{
	16:   kindBool,
	17:   kindBytea,
	20:   kindInteger,
	21:   kindInteger,
	22:   kindInt2Vector,
	23:   kindInteger,
	30:   kindOIDVector,
	114:  kindJSON,
	700:  kindNumber,
	701:  kindNumber,
	1082: kindDate,
	1114: kindTimestamp,
	1184: kindTimestampTZ,
	1700: kindNumber,
	3802: kindJSONB,
}

// maxBuiltinOID bounds the fixed OIDs that PostgreSQL assigns in pg_type.dat.
const maxBuiltinOID = 10000

// builtins holds the typeInfo of each entry of builtinTypes, indexed by OID,
// so that the lookup of a built-in type is one slice index.
var builtins = buildBuiltins()

func buildBuiltins() []*typeInfo {
	table := make([]*typeInfo, maxBuiltinOID)
	for _, b := range builtinTypes {
		delim := b.delim
		if delim == 0 {
			delim = ','
		}
		table[b.oid] = &typeInfo{oid: b.oid, name: b.name, kind: kindText, delim: delim}
	}

	for _, b := range builtinTypes {
		t := table[b.oid]
		if k, ok := scalarKinds[b.oid]; ok {
			t.kind = k

			continue
		}
		if b.elem != 0 {
			t.kind = kindArray
			t.elem = table[b.elem]
		}
	}

	return table
}

// builtin returns the typeInfo of a built-in type, or nil.
func builtin(oid uint32) *typeInfo {
	if oid < maxBuiltinOID {
		return builtins[oid]
	}

	return nil
}

// unknownType is used for an OID that is neither built in nor loaded: its
// values become JSON strings. Its oid and name are zero, so errors name the
// OID of the value instead.
var unknownType = &typeInfo{kind: kindText, delim: ','}

// typeName returns the name of the type for messages.
func typeName(t *typeInfo, oid uint32) string {
	if t.name != "" {
		return t.name
	}

	return "oid " + strconv.FormatUint(uint64(oid), 10)
}
