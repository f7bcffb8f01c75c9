// Package policy implements saslguard's Postfix policy delegation service
// (SMTPD_POLICY_README): Postfix asks it about every RCPT, DATA and
// END-OF-MESSAGE of an authenticated client, and it answers per SASL login,
// so that a stolen login is stopped after a few messages.
//
// The parts, in the order a request meets them: ReadRequest parses the
// protocol with bounded lines, attributes and size; Server runs listeners
// with connection, idle and request limits; Engine counts each message once
// (by its instance attribute) and its recipients, checks the per-login Rules
// and blocks logins that trip a compromised rule; Counters keep the counts,
// in this process (LocalCounters, snapshotted to the state directory) or in
// Redis for a fleet (Redis); Service ties them to the incident store
// (internal/store), where blocks are recorded and lifted.
//
// Time is the server's clock, handed to the engine with every request:
// tests and replays move it instead of sleeping.
//
// # Postfix configuration
//
// In main.cf, and in every master.cf service that offers AUTH (submission,
// smtps often override smtpd_*_restrictions with -o: check postconf -P),
// put the check after permit_mynetworks-like exceptions but before
// permit_sasl_authenticated, so authenticated mail is checked:
//
//	smtpd_policy_service_default_action = DUNNO
//	smtpd_recipient_restrictions =
//	    check_policy_service inet:127.0.0.1:10040,
//	    permit_sasl_authenticated,
//	    reject_unauth_destination
//	smtpd_data_restrictions =
//	    check_policy_service inet:127.0.0.1:10040
//	smtpd_end_of_data_restrictions =
//	    check_policy_service inet:127.0.0.1:10040
//
//	# master.cf
//	submission inet n - y - - smtpd
//	  -o smtpd_sasl_auth_enable=yes
//	  -o smtpd_recipient_restrictions=check_policy_service,inet:127.0.0.1:10040,permit_sasl_authenticated,reject
//
// With a unix socket inside Postfix's queue directory (smtpd may run
// chrooted there), serve with
//
//	[policy]
//	listen = ["unix:/var/spool/postfix/private/saslguard"]
//	socket_group = "postfix"
//
// and write check_policy_service unix:private/saslguard instead.
//
// smtpd_policy_service_default_action = DUNNO keeps mail flowing if the
// policy service is down (Postfix would otherwise answer 451). Where
// envelope senders must match logins, also use Postfix's own
// reject_authenticated_sender_login_mismatch (with smtpd_sender_login_maps).
// The policy protocol has no authentication: listen on loopback or a unix
// socket only.
package policy
