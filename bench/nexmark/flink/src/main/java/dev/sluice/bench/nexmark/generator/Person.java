package dev.sluice.bench.nexmark.generator;

import java.io.Serializable;

/** A person: the fields of Sluice's nexmark.person stream (dateTime in epoch milliseconds). */
public final class Person implements Serializable {
  private static final long serialVersionUID = 1L;

  public long id;
  public String name;
  public String emailAddress;
  public String creditCard;
  public String city;
  public String state;
  public long dateTime;
  public String extra;

  public Person() {}

  public Person(long id, String name, String emailAddress, String creditCard, String city,
      String state, long dateTime, String extra) {
    this.id = id;
    this.name = name;
    this.emailAddress = emailAddress;
    this.creditCard = creditCard;
    this.city = city;
    this.state = state;
    this.dateTime = dateTime;
    this.extra = extra;
  }

  @Override
  public String toString() {
    return "Person{id=" + id + ", name=" + name + ", emailAddress=" + emailAddress
        + ", creditCard=" + creditCard + ", city=" + city + ", state=" + state
        + ", dateTime=" + dateTime + ", extra=" + extra + "}";
  }
}
