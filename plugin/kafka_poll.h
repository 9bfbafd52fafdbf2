/*
 * The producer's broker threads' zero-timeout poll(2) turned into a short
 * wait (kafka_poll.c: why, and what it changes). Private to the kafka
 * transport.
 */
#ifndef KL_PLUGIN_KAFKA_POLL_H
#define KL_PLUGIN_KAFKA_POLL_H

/* The longest wait (the upper bound of stage.producer.poll.wait.us). */
#define KL_KAFKA_POLL_WAIT_MAX_US 100000

/* Marks the calling thread: from now on a poll() of it with a zero timeout
 * waits up to wait_us microseconds (0..KL_KAFKA_POLL_WAIT_MAX_US; 0 unmarks)
 * for one of its descriptors. Call it from the thread itself (librdkafka's
 * on_thread_start interceptor). */
void kl_kafka_poll_mark_thread(int wait_us);

/* How many zero-timeout polls of marked threads this process has turned
 * into waits so far (any thread may ask). */
unsigned long kl_kafka_poll_waits(void);

#endif
