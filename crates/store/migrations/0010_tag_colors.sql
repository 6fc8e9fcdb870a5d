-- Tag colours (HelpCrunch's tags are `{name, color}`): one colour per tag name and domain, kept
-- so that a customer's tags come back with the colour they were given.
CREATE TABLE tag_colors (
    domain_id BIGINT NOT NULL REFERENCES domains (id),
    tag TEXT NOT NULL,
    color TEXT NOT NULL,
    PRIMARY KEY (domain_id, tag)
);
