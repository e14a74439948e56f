/*
 * The Redis contract (redis/SCHEMA.md, schema version 1) as names: the one
 * place where a key, a channel or a limit of the contract is spelled, for
 * the front-ends (through core/), tuneslotd and the tests alike.  A change
 * here is a change of the contract: read "Who may change this" in
 * redis/SCHEMA.md first.
 */

#ifndef TUNE_CONTRACT_H
#define TUNE_CONTRACT_H


/* every key of one deployment falls into one Redis Cluster hash slot */
#define TUNE_KEY_TAG            "{tuneslot:v1}"

/* the last complete round, in the text format of tune_snapshot.h */
#define TUNE_KEY_SNAPSHOT       TUNE_KEY_TAG ":snapshot"

/* strictly increasing with every round; at least the round's written_ms */
#define TUNE_KEY_GENERATION     TUNE_KEY_TAG ":generation"

/* what gets no new listeners: a hash the operator edits */
#define TUNE_KEY_DRAIN          TUNE_KEY_TAG ":drain"

/* the writer's lease, "<holder> <token>", and the last token handed out */
#define TUNE_KEY_LEADER         TUNE_KEY_TAG ":leader"
#define TUNE_KEY_FENCE          TUNE_KEY_TAG ":fence"

/* the tuneslotd instances running: holder -> "<unix ms> <role>" */
#define TUNE_KEY_INSTANCES      TUNE_KEY_TAG ":instances"

/* a slot's reservations between polls: prefix, stream, ":", backend */
#define TUNE_KEY_HERD_PREFIX    TUNE_KEY_TAG ":herd:"

/* the channel a new generation is published on after each round */
#define TUNE_CHANNEL_ROUNDS     TUNE_KEY_TAG ":rounds"


/*
 * A reader fetches a snapshot text only up to this many times the space it
 * has for the decoded image: an image is rarely larger than its text, and
 * never more than three times; a larger text would not fit, and fetching
 * it would cost that much memory every round.
 */
#define TUNE_TEXT_PER_IMAGE     4


#endif /* TUNE_CONTRACT_H */
