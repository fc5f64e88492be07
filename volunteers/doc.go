// Package volunteers holds the rules of the volunteer registry: the public
// self-registration form, the social workers' review (approve, classify,
// reject, suspend), who may see a volunteer's phone number, matching a
// ticket to the volunteers who can serve it, bulk CSV import and export,
// and (tasking.go, hours.go) the task offers sent to volunteers and the
// hours they give.
//
// It talks to storage only through hotline.VolunteerStore and
// hotline.AssignmentStore and never imports go-redis: redisstore keeps the
// registry, with a GEO set per skill holding only matchable volunteers, so
// that matching is one geographic search.
//
// Permissions: social workers and administrators decide registrations
// (approve, reject, activate, suspend, mark left), edit profiles and import
// or export the registry. A volunteer group's lead is the staff account of
// the group's unit: a user of role committee whose UnitID is the group (a
// unit of kind volunteer_group). The lead sees the full phone numbers of
// the group's members; everyone else sees them masked (View).
package volunteers
