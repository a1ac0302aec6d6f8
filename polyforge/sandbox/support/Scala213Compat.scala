// Scala 2.13's collection methods for Scala 2.11, so programs written for 2.13 compile unchanged, and a
// launcher that runs whichever compiled object has a main method (the sandbox does not know its name).
object Scala213Compat {
  import scala.collection.generic.{Growable, Shrinkable}

  implicit class GrowableCompat[A](val growable: Growable[A]) extends AnyVal {
    def addOne(elem: A): growable.type = growable += elem
    def addAll(elems: TraversableOnce[A]): growable.type = growable ++= elems
  }

  implicit class ShrinkableCompat[A](val shrinkable: Shrinkable[A]) extends AnyVal {
    def subtractOne(elem: A): shrinkable.type = shrinkable -= elem
    def subtractAll(elems: TraversableOnce[A]): shrinkable.type = shrinkable --= elems
  }

  implicit class TraversableCompat[A](val items: TraversableOnce[A]) extends AnyVal {
    def maxOption(implicit ord: Ordering[A]): Option[A] = if (items.isEmpty) None else Some(items.max)
    def minOption(implicit ord: Ordering[A]): Option[A] = if (items.isEmpty) None else Some(items.min)
    def maxByOption[B](f: A => B)(implicit ord: Ordering[B]): Option[A] =
      if (items.isEmpty) None else Some(items.maxBy(f))
    def minByOption[B](f: A => B)(implicit ord: Ordering[B]): Option[A] =
      if (items.isEmpty) None else Some(items.minBy(f))
  }
}

object PolyforgeLaunch {
  def main(args: Array[String]): Unit = {
    val ours = Set("PolyforgeLaunch", "Scala213Compat")
    val names = new java.io.File(".").list().toList.sorted
      .filter(name => name.endsWith(".class") && !name.contains("$"))
      .map(_.stripSuffix(".class")).filterNot(ours)
    val mains = names.flatMap { name =>
      try {
        val method = Class.forName(name).getMethod("main", classOf[Array[String]])
        if (java.lang.reflect.Modifier.isStatic(method.getModifiers)) Some(method) else None
      } catch { case _: NoSuchMethodException | _: ClassNotFoundException | _: NoClassDefFoundError => None }
    }
    mains match {
      case List(method) =>
        try method.invoke(null, args)
        catch { case e: java.lang.reflect.InvocationTargetException => throw e.getCause }
      case Nil =>
        System.err.println("no object with a main method (def main(args: Array[String]): Unit)"); sys.exit(1)
      case several =>
        System.err.println("several objects have a main method: " + several.map(_.getDeclaringClass.getName).mkString(", "))
        sys.exit(1)
    }
  }
}
