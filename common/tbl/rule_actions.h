/*
 * What a rule can do with a request, defined once.  Include after defining
 * RULE_ACTION(name, help); the enum, names and docs come from here.
 */
RULE_ACTION(allow, "Let the request through")
RULE_ACTION(deny, "Refuse it: status (403) and a block page naming the rule")
RULE_ACTION(redirect, "Answer 302 with Location: the rule's location")
RULE_ACTION(auth, "Require proxy authentication (407) from auth_file users")
#undef RULE_ACTION
