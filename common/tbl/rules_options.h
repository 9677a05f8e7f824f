/*
 * The keys of the [rules] section of rules.ini, defined once.  Include
 * after defining RULES_OPTION(key, default, help).
 */
RULES_OPTION(default, "deny",
             "allow or deny: the decision when no rule matches")
RULES_OPTION(sni_mismatch, "deny",
             "allow or deny a tunnel whose TLS SNI is not its CONNECT host")
RULES_OPTION(sni_missing, "allow",
             "allow or deny a tunnel whose ClientHello has no SNI")
RULES_OPTION(auth_file, "",
             "user:crypt-hash lines for action = auth (relative to rules.ini)")
RULES_OPTION(auth_realm, "proxyd", "The realm named in Proxy-Authenticate")
RULES_OPTION(body_scan_limit, "1m",
             "Bytes of a body content rules read (512 .. 64m)")
RULES_OPTION(body_scan_overflow, "deny",
             "allow or deny a body content rules cannot read whole")
RULES_OPTION(
        block_page, "",
        "HTML file for deny answers: {rule} {url} {client} {message} {status}")
RULES_OPTION(time_zone, "",
             "Zone of time = windows (e.g. Europe/Paris); empty = the system's")
#undef RULES_OPTION
