package setup

import (
	"fmt"
	"strings"
)

// MinServerVersion is the oldest supported PostgreSQL release, as
// server_version_num.
const MinServerVersion = 140000

// VersionError reports a PostgreSQL server older than MinServerVersion.
type VersionError struct {
	// Version is the server's server_version setting, such as "13.4".
	Version string
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("setup: PostgreSQL %s is too old: bemi needs PostgreSQL 14 or newer", e.Version)
}

// WALLevelError reports a server whose wal_level is not logical, so that no
// logical replication slot can be created or read.
type WALLevelError struct {
	// Level is the current wal_level, such as "replica".
	Level string
}

func (e *WALLevelError) Error() string {
	return fmt.Sprintf("setup: wal_level is %q, but change capture needs logical: "+
		"run ALTER SYSTEM SET wal_level = logical as a superuser, then restart PostgreSQL "+
		"(on managed services, set the parameter that enables logical replication)", e.Level)
}

// ReplicationError reports a role that may not create the replication slot.
type ReplicationError struct {
	// Role is the connected role.
	Role string
}

func (e *ReplicationError) Error() string {
	return fmt.Sprintf("setup: role %s lacks the REPLICATION attribute, which creating the replication slot needs: "+
		"run ALTER ROLE %s REPLICATION as a superuser, or skip the slot (SkipSlot, --skip-slot) "+
		"and create it with a replication role", displayIdent(e.Role), displayIdent(e.Role))
}

// OwnershipError reports tracked tables that the role does not own.
// PostgreSQL lets only a table's owner create triggers on it, change its
// replica identity and add it to a publication.
type OwnershipError struct {
	// Role is the connected role.
	Role string

	// Tables are the schema-qualified, quoted names of the tables that need
	// a change and are not owned by Role or a role it is a member of.
	Tables []string
}

func (e *OwnershipError) Error() string {
	return fmt.Sprintf("setup: role %s does not own %d tracked table(s): %s: "+
		"make the role their owner (ALTER TABLE ... OWNER TO %s), run setup as their owner, "+
		"or exclude them (ExcludeTables, --exclude-tables)",
		displayIdent(e.Role), len(e.Tables), strings.Join(e.Tables, ", "), displayIdent(e.Role))
}

// CreatePrivilegeError reports a role without the CREATE privilege on the
// database, which creating schema bemi and the publication needs.
type CreatePrivilegeError struct {
	// Role is the connected role.
	Role string

	// Database is the current database.
	Database string
}

func (e *CreatePrivilegeError) Error() string {
	return fmt.Sprintf("setup: role %s lacks the CREATE privilege on database %s, "+
		"which creating schema bemi and the publication needs: run GRANT CREATE ON DATABASE %s TO %s",
		displayIdent(e.Role), displayIdent(e.Database), displayIdent(e.Database), displayIdent(e.Role))
}

// SlotActiveError reports that Teardown cannot drop the replication slot
// because a process, usually the capture worker, is reading it.
type SlotActiveError struct {
	// Slot is the slot name.
	Slot string

	// PID is the process id of the server process that reads the slot.
	PID int32
}

func (e *SlotActiveError) Error() string {
	return fmt.Sprintf("setup: replication slot %s is in use by server process %d: "+
		"stop the capture worker, then run teardown again", e.Slot, e.PID)
}
