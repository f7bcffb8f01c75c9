package postfixblock

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testMap = "hash:/etc/postfix/saslguard_sasl_access"

// debianView is Debian 12's main.cf (only smtpd_relay_restrictions) with its
// master.cf submission and smtps entries uncommented, submission following
// the file's advice to name "$mua_recipient_restrictions" without main.cf
// defining it.
func debianView() setupView {
	return setupView{
		services: map[string]string{
			"smtp/inet":         "smtpd",
			"submission/inet":   "smtpd -o smtpd_sasl_auth_enable=yes",
			"smtps/inet":        "smtpd -o smtpd_sasl_auth_enable=yes",
			"pickup/unix":       "pickup",
			"127.0.0.1:26/inet": "/usr/lib/postfix/sbin/smtpd",
		},
		rawOver: map[string]map[string]string{
			"submission/inet": {"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "$mua_recipient_restrictions", "smtpd_relay_restrictions": "permit_sasl_authenticated,reject"},
			"smtps/inet":      {"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "permit_sasl_authenticated,reject"},
		},
		expOver: map[string]map[string]string{
			"submission/inet": {"smtpd_sasl_auth_enable": "yes", "smtpd_relay_restrictions": "permit_sasl_authenticated,reject"},
			"smtps/inet":      {"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "permit_sasl_authenticated,reject"},
		},
		rawMain: map[string]string{"smtpd_relay_restrictions": "permit_mynetworks permit_sasl_authenticated defer_unauth_destination"},
		expMain: map[string]string{"smtpd_sasl_auth_enable": "no", "smtpd_relay_restrictions": "permit_mynetworks permit_sasl_authenticated defer_unauth_destination", "smtpd_recipient_restrictions": ""},
	}
}

func TestPlanSetupDebian(t *testing.T) {
	p := planSetup(testMap, "", debianView())
	want := []Change{
		{Master: true, Name: "smtps/inet/smtpd_recipient_restrictions", Existed: true, Old: "permit_sasl_authenticated,reject",
			New: "check_sasl_access," + testMap + ",permit_sasl_authenticated,reject", Services: []string{"smtps/inet"}},
		{Name: "mua_recipient_restrictions", New: "check_sasl_access " + testMap, Services: []string{"submission/inet"}},
	}
	if !reflect.DeepEqual(p.Changes, want) {
		t.Fatalf("changes:\n got %+v\nwant %+v", p.Changes, want)
	}
	if len(p.Effective) != 0 || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "$mua_recipient_restrictions") {
		t.Errorf("effective %v, warnings %q", p.Effective, p.Warnings)
	}
	if got := strings.Join(p.Changes[0].Command(), " "); got != "-P smtps/inet/smtpd_recipient_restrictions=check_sasl_access,"+testMap+",permit_sasl_authenticated,reject" {
		t.Errorf("command %q", got)
	}
}

// After the changes, the plan is empty: applying it twice changes nothing.
func TestPlanSetupAfterApply(t *testing.T) {
	v := debianView()
	v.rawOver["smtps/inet"]["smtpd_recipient_restrictions"] = "check_sasl_access," + testMap + ",permit_sasl_authenticated,reject"
	v.expOver["smtps/inet"]["smtpd_recipient_restrictions"] = v.rawOver["smtps/inet"]["smtpd_recipient_restrictions"]
	v.rawMain["mua_recipient_restrictions"] = "check_sasl_access " + testMap
	v.expOver["submission/inet"]["smtpd_recipient_restrictions"] = "check_sasl_access " + testMap
	p := planSetup(testMap, "", v)
	if len(p.Changes) != 0 || !reflect.DeepEqual(p.Effective, []string{"smtps/inet", "submission/inet"}) {
		t.Fatalf("plan after apply: %+v", p)
	}
}

// A macro main.cf defines is changed in main.cf, once for every service that
// names it, and keeps its value after the map.
func TestPlanSetupSharedMacro(t *testing.T) {
	v := debianView()
	v.rawOver["smtps/inet"]["smtpd_recipient_restrictions"] = "${mua_recipient_restrictions}"
	v.rawMain["mua_recipient_restrictions"] = "permit_sasl_authenticated, reject"
	for _, s := range []string{"submission/inet", "smtps/inet"} {
		v.expOver[s]["smtpd_recipient_restrictions"] = "permit_sasl_authenticated, reject"
	}
	p := planSetup(testMap, "", v)
	want := []Change{{Name: "mua_recipient_restrictions", Existed: true, Old: "permit_sasl_authenticated, reject",
		New: "check_sasl_access " + testMap + ", permit_sasl_authenticated, reject", Services: []string{"smtps/inet", "submission/inet"}}}
	if !reflect.DeepEqual(p.Changes, want) || len(p.Warnings) != 0 {
		t.Fatalf("changes %+v warnings %q", p.Changes, p.Warnings)
	}
}

// A service without overrides is fixed in main.cf's own list; the map after
// permit_sasl_authenticated does not count, and the policy service comes
// after the map with a DUNNO default action.
func TestPlanSetupMainWithPolicy(t *testing.T) {
	v := setupView{
		services: map[string]string{"smtp/inet": "smtpd"},
		rawMain:  map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "permit_sasl_authenticated, check_sasl_access " + testMap + ", reject_unauth_destination"},
		expMain:  map[string]string{"smtpd_sasl_auth_enable": "yes", "smtpd_recipient_restrictions": "permit_sasl_authenticated, check_sasl_access " + testMap + ", reject_unauth_destination"},
	}
	p := planSetup(testMap, "inet:127.0.0.1:10040", v)
	want := []Change{
		{Name: "smtpd_recipient_restrictions", Existed: true, Old: v.rawMain["smtpd_recipient_restrictions"],
			New: "check_sasl_access " + testMap + ", check_policy_service inet:127.0.0.1:10040, " + v.rawMain["smtpd_recipient_restrictions"], Services: []string{"smtp/inet"}},
		{Name: "smtpd_policy_service_default_action", New: "DUNNO"},
	}
	if !reflect.DeepEqual(p.Changes, want) {
		t.Fatalf("changes:\n got %+v\nwant %+v", p.Changes, want)
	}
	// Only the policy service is missing: only it is added.
	v.rawMain["smtpd_recipient_restrictions"] = "check_sasl_access " + testMap + ", permit_sasl_authenticated"
	v.expMain["smtpd_recipient_restrictions"] = v.rawMain["smtpd_recipient_restrictions"]
	v.rawMain["smtpd_policy_service_default_action"] = "451 4.3.5 try again"
	p = planSetup(testMap, "inet:127.0.0.1:10040", v)
	if len(p.Changes) != 1 || p.Changes[0].New != "check_policy_service inet:127.0.0.1:10040, check_sasl_access "+testMap+", permit_sasl_authenticated" {
		t.Errorf("policy only: %+v", p.Changes)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "DUNNO") {
		t.Errorf("warnings %q", p.Warnings)
	}
}

func TestPlanSetupNoAuth(t *testing.T) {
	p := planSetup(testMap, "", setupView{services: map[string]string{"smtp/inet": "smtpd"}, expMain: map[string]string{"smtpd_sasl_auth_enable": "no"}})
	if len(p.Changes) != 0 || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "nothing to block") {
		t.Errorf("%+v", p)
	}
}

func TestMacroRef(t *testing.T) {
	for in, want := range map[string]string{"$mua_x": "mua_x", "${mua_x}": "mua_x", "$(a1)": "a1", " $b ": "b",
		"$a,b": "", "check $x": "", "$": "", "${}": "", "$a b": "", "plain": ""} {
		got, ok := macroRef(in)
		if got != want || ok != (want != "") {
			t.Errorf("macroRef(%q) = %q, %v", in, got, ok)
		}
	}
}

func TestRefusal(t *testing.T) {
	root := t.TempDir()
	mainCf := filepath.Join(root, "main.cf")
	os.WriteFile(mainCf, []byte("# See /usr/share/postfix/main.cf.dist\n\nsmtpd_banner = x\n"), 0o644)
	if r := refusal(root, mainCf); r != "" {
		t.Errorf("stock main.cf refused: %s", r)
	}
	os.WriteFile(mainCf, []byte("# This file is managed by Puppet. DO NOT EDIT.\nsmtpd_banner = x\n"), 0o644)
	if r := refusal(root, mainCf); !strings.Contains(r, "line 1") {
		t.Errorf("generated main.cf: %q", r)
	}
	os.WriteFile(mainCf, []byte("smtpd_banner = x\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "usr/local/psa"), 0o755)
	if r := refusal(root, mainCf); !strings.Contains(r, "Plesk") {
		t.Errorf("Plesk: %q", r)
	}
}
