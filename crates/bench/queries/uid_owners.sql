SELECT normalized, core_profile_id FROM identities WHERE kind = 'uid'
